package benchmarks

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"time"

	analytics "github.com/cdpkit/analytics-go"
)

// The spool rows: cdpkit's Enqueue, and its whole path to the API, with
// the memory queue and with the durable spool (WithSpool), from 1, 4 and 8
// producers. Only cdpkit has these modes; the message is the Track with 3
// properties of every other table, built by the same adapter (cdpkit.go).

// QueueMode is where cdpkit keeps what Enqueue accepted.
type QueueMode string

// The queue modes compared.
const (
	// QueueMemory is the memory queue alone (the default).
	QueueMemory QueueMode = "memory"
	// QueueSpool is WithSpool with its default fsync every second.
	QueueSpool QueueMode = "spool"
	// QueueSpoolSync0 is WithSpool and WithSpoolSync(0): an fsync per
	// message before Enqueue returns.
	QueueSpoolSync0 QueueMode = "spool-sync0"
)

// QueueModes lists the modes in table order.
var QueueModes = []QueueMode{QueueMemory, QueueSpool, QueueSpoolSync0}

// options returns cdpkit's options for m, its spool in dir.
func (m QueueMode) options(dir string) ([]analytics.Option, error) {
	switch m {
	case QueueMemory:
		return nil, nil
	case QueueSpool:
		return []analytics.Option{analytics.WithSpool(dir)}, nil
	case QueueSpoolSync0:
		return []analytics.Option{analytics.WithSpool(dir), analytics.WithSpoolSync(0)}, nil
	}
	return nil, fmt.Errorf("unknown queue mode %q", m)
}

// stalledTransport holds every request until its context ends: a server
// that never answers, so that nothing is sent and nothing is settled.
type stalledTransport struct{}

func (stalledTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	<-r.Context().Done()
	return nil, r.Context().Err()
}

// EnqueueCost is what RunEnqueue and RunQueueE2E measured, over the timed
// calls only.
type EnqueueCost struct {
	Calls, Refused int64
	Latency        Latency       // of each accepted call
	Wall           time.Duration // from the first call to the last return (RunQueueE2E: to Close's)
	CPU            time.Duration // the process's user and system time
	Mallocs, Bytes uint64        // allocations by every goroutine (runtime.MemStats)
}

// enqueueRound is how many messages one client of RunEnqueue takes:
// fewer than the memory queue's 10,000, so that it never refuses.
const enqueueRound = 8000

// RunEnqueue measures cdpkit's Enqueue in mode m from producers goroutines,
// n calls in all, against a server that never answers: what is measured is
// validation, encoding and queueing (with a spool, the write to its log),
// not the senders. The calls are made in rounds of at most enqueueRound,
// each on a fresh client (with its spool in a fresh directory under dir),
// so that the memory queue never fills; New and Shutdown are outside the
// timed part. The spool's feeder, which reads the log back into the memory
// queue, runs beside the calls and is in CPU and allocations.
func RunEnqueue(m QueueMode, producers, n int, dir string) (EnqueueCost, error) {
	var cost EnqueueCost
	for done := 0; done < n; {
		k := min(n-done, enqueueRound)
		sub, err := os.MkdirTemp(dir, "spool-")
		if err != nil {
			return cost, err
		}
		opts, err := m.options(sub)
		if err != nil {
			return cost, err
		}
		c, err := newCDPKit(clientConfig{endpoint: "http://127.0.0.1:1", transport: stalledTransport{},
			cdpkitOptions: append(opts, analytics.WithFlushInterval(time.Hour))})
		if err != nil {
			return cost, err
		}
		r := measureCalls(producers, k, c.Track3)
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		_ = c.(cdpkitClient).c.Shutdown(ctx)
		cancel()
		if err := os.RemoveAll(sub); err != nil {
			return cost, err
		}
		cost.add(r)
		done += k
	}
	return cost, nil
}

// RunQueueE2E measures cdpkit in mode m end to end: producers goroutines
// make n calls in all with EnqueueContext (which waits for room rather
// than refuse) on one client sending to the sink at endpoint, and Close
// delivers everything; Wall and CPU run to Close's return. The spool is
// in a fresh directory under dir.
func RunQueueE2E(m QueueMode, producers, n int, dir, endpoint string) (EnqueueCost, error) {
	sub, err := os.MkdirTemp(dir, "spool-")
	if err != nil {
		return EnqueueCost{}, err
	}
	defer os.RemoveAll(sub)
	opts, err := m.options(sub)
	if err != nil {
		return EnqueueCost{}, err
	}
	tr := newTransport()
	defer tr.CloseIdleConnections()
	c, err := newCDPKit(clientConfig{endpoint: endpoint, transport: tr, wait: true, cdpkitOptions: opts})
	if err != nil {
		return EnqueueCost{}, err
	}
	var closeErr error
	cost := measureCalls(producers, n, c.Track3, func() { closeErr = c.Close() })
	return cost, closeErr
}

// measureCalls makes n calls of call from producers goroutines, unpaced
// (RunTail), and then runs the after functions, all inside the measured
// window.
func measureCalls(producers, n int, call func() error, after ...func()) EnqueueCost {
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	u0 := SelfUsage()
	t0 := time.Now()
	r := RunTail(TailConfig{Producers: producers, Calls: n}, call)
	for _, f := range after {
		f()
	}
	wall := time.Since(t0)
	u1 := SelfUsage()
	runtime.ReadMemStats(&ms1)
	return EnqueueCost{Calls: r.Calls, Refused: r.Refused, Latency: r.Latency, Wall: wall,
		CPU: u1.CPU - u0.CPU, Mallocs: ms1.Mallocs - ms0.Mallocs, Bytes: ms1.TotalAlloc - ms0.TotalAlloc}
}

// add adds the figures of o.
func (c *EnqueueCost) add(o EnqueueCost) {
	c.Calls += o.Calls
	c.Refused += o.Refused
	c.Latency.Merge(&o.Latency)
	c.Wall += o.Wall
	c.CPU += o.CPU
	c.Mallocs += o.Mallocs
	c.Bytes += o.Bytes
}
