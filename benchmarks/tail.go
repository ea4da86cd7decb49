package benchmarks

import (
	"sync"
	"time"
)

// The tail benchmark: producers goroutines call one client at once, either
// as fast as they can (unthrottled) or paced so that all of them together
// make rate calls a second, and every call is timed with the monotonic
// clock. Only the calls that accepted their event are recorded: a refusal
// (cdpkit's ErrQueueFull, the lean floor's errLeanFull) drops the event,
// and what it costs is not what a caller pays to deliver one. Segment's
// Enqueue never refuses; it waits on a full channel, and that wait is in
// its latency.

// TailConfig is one run of the tail benchmark.
type TailConfig struct {
	Producers int
	// Rate is the calls per second of all producers together; 0 is
	// unthrottled.
	Rate float64
	// Calls is the calls of all producers together.
	Calls int
}

// paceSlack is how far behind its schedule a paced producer may fall and
// still catch up; see RunTail.
const paceSlack = 5 * time.Millisecond

// TailResult is what RunTail measured.
type TailResult struct {
	Latency  Latency // of the accepted calls
	Calls    int64
	Refused  int64
	Wall     time.Duration // from the first call to the last return
	Lateness Latency       // paced runs: how late each call started against its schedule
}

// RunTail runs cfg against send, which makes one call and returns its
// error.
//
// Pacing: producer p makes its i-th call at start + (i + p/Producers) ×
// Producers/Rate, sleeping until then. Go's timers sleep at least about a
// millisecond (the runtime waits in epoll_wait, whose timeout is in
// milliseconds), longer than the interval between two calls of one
// producer at 50,000 calls a second from 8 (160 µs); so a producer wakes
// about once a millisecond and makes the calls whose time has come back
// to back: about 6 from each producer, 50 in all, every millisecond.
// Spinning instead would take the 2 cores the clients run on. A producer
// that falls more than paceSlack behind (descheduled, say) drops the
// calls it missed instead of making them all at once; Lateness records how
// late each call started against its schedule, and the achieved rate is
// Calls over Wall. The latency of a call is measured from the moment it
// is made, not from its place in the schedule: it is the call's own cost
// (its service time), which is what the tail is about here.
func RunTail(cfg TailConfig, send func() error) TailResult {
	res := make([]TailResult, cfg.Producers)
	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(cfg.Producers) / cfg.Rate * float64(time.Second))
	}
	var wg sync.WaitGroup
	var t0 time.Time
	start := make(chan struct{})
	for p := range cfg.Producers {
		n := cfg.Calls / cfg.Producers
		if p < cfg.Calls%cfg.Producers {
			n++
		}
		wg.Go(func() {
			r := &res[p]
			<-start
			next := t0.Add(interval * time.Duration(p) / time.Duration(cfg.Producers))
			for range n {
				if interval > 0 {
					now := time.Now()
					if wait := next.Sub(now); wait > 0 {
						time.Sleep(wait)
						now = time.Now()
					}
					late := now.Sub(next)
					r.Lateness.Record(late)
					if late > paceSlack {
						next = now // far behind: skip the missed slots
					}
					next = next.Add(interval)
				}
				c0 := time.Now()
				err := send()
				d := time.Since(c0)
				r.Calls++
				if err != nil {
					r.Refused++
					continue
				}
				r.Latency.Record(d)
			}
			r.Wall = time.Since(t0)
		})
	}
	t0 = time.Now()
	close(start)
	wg.Wait()
	var total TailResult
	for i := range res {
		r := &res[i]
		total.Latency.Merge(&r.Latency)
		total.Lateness.Merge(&r.Lateness)
		total.Calls += r.Calls
		total.Refused += r.Refused
		total.Wall = max(total.Wall, r.Wall)
	}
	return total
}
