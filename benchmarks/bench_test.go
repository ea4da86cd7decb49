package benchmarks

import (
	"flag"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"testing"
	"time"
)

var burstFlag = flag.Int("burst", 0, "events in one BenchmarkBurstMemory burst (0: 1,000,000, or 10,000 under -short or CI)")

func burstSize() int {
	if *burstFlag > 0 {
		return *burstFlag
	}
	if testing.Short() || os.Getenv("CI") != "" {
		return 10_000
	}
	return 1_000_000
}

// ---- End to end: Enqueue → delivered, Close included ----

func BenchmarkE2EOrderCompleted(b *testing.B) {
	forEachSDK(b, true, func(b *testing.B, s sdk) {
		benchE2E(b, s, false, func(c benchClient, _ int) error { return c.TrackOrder(&order) })
	})
}

func BenchmarkE2ETrack3Props(b *testing.B) {
	forEachSDK(b, false, func(b *testing.B, s sdk) {
		benchE2E(b, s, false, func(c benchClient, _ int) error { return c.Track3() })
	})
}

func BenchmarkE2EIdentify5Traits(b *testing.B) {
	forEachSDK(b, false, func(b *testing.B, s sdk) {
		benchE2E(b, s, false, func(c benchClient, _ int) error { return c.Identify5() })
	})
}

// BenchmarkE2EOrderCompletedVaried sends the varied orders (fixtures.go)
// uncompressed: the baseline of the gzip benchmark, for every client.
func BenchmarkE2EOrderCompletedVaried(b *testing.B) {
	forEachSDK(b, true, func(b *testing.B, s sdk) { benchE2E(b, s, false, sendVaried) })
}

// BenchmarkE2EOrderCompletedGzip is BenchmarkE2EOrderCompletedVaried with
// request compression. Neither Segment v3, posthog-go nor the floor
// compress request bodies, so their sub-benchmarks are skipped.
func BenchmarkE2EOrderCompletedGzip(b *testing.B) {
	forEachSDK(b, true, func(b *testing.B, s sdk) {
		if !s.gzip {
			b.Skip("no request compression")
		}
		benchE2E(b, s, true, sendVaried)
	})
}

func sendVaried(c benchClient, i int) error {
	return c.TrackOrder(&variedOrders[i%len(variedOrders)])
}

// benchE2E sends b.N events from one goroutine and closes the client, all
// timed; one op is one event.
func benchE2E(b *testing.B, s sdk, gzip bool, send func(c benchClient, i int) error) {
	sk, c := startClient(b, s, clientConfig{gzip: gzip, wait: true})
	b.ResetTimer()
	for i := range b.N {
		if err := send(c, i); err != nil {
			b.Fatalf("enqueue: %v", err)
		}
	}
	if err := c.Close(); err != nil {
		b.Fatalf("close: %v", err)
	}
	b.StopTimer()
	st := sk.Stats()
	if st.Events != int64(b.N) || st.Bad != 0 {
		b.Fatalf("sink counted %d events (%d bad requests), want %d", st.Events, st.Bad, b.N)
	}
	b.ReportMetric(float64(st.WireBytes)/float64(b.N), "wire-B/event")
	b.ReportMetric(float64(st.JSONBytes)/float64(b.N), "json-B/event")
	b.ReportMetric(float64(st.Conns), "conns")
}

// ---- Enqueue only: latency of accepted calls ----

func BenchmarkEnqueue1Producer(b *testing.B) {
	forEachSDK(b, true, func(b *testing.B, s sdk) { benchEnqueue(b, s, 1) })
}

func BenchmarkEnqueue8Producers(b *testing.B) {
	forEachSDK(b, true, func(b *testing.B, s sdk) { benchEnqueue(b, s, 8) })
}

// sampleEvery: the latency of every sampleEvery-th Enqueue call is recorded,
// which keeps the two clock reads out of most calls.
const sampleEvery = 8

// benchEnqueue measures the caller's cost of enqueueing Order Completed from
// producers goroutines while the sink answers. One op is one Enqueue call;
// ns/op is wall time over all calls. The percentiles are of accepted calls
// only: a rejection (cdpkit's ErrQueueFull when the producers outrun the
// senders) is counted in rejected-% and left out, since a call that drops
// its event is not the latency a caller pays for delivering one.
func benchEnqueue(b *testing.B, s sdk, producers int) {
	sk, c := startClient(b, s, clientConfig{})

	type result struct {
		lat      []int64
		rejected int
	}
	results := make([]result, producers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for p := range producers {
		n := b.N / producers
		if p == 0 {
			n += b.N % producers
		}
		results[p].lat = make([]int64, 0, n/sampleEvery+1)
		wg.Add(1)
		go func(r *result) {
			defer wg.Done()
			<-start
			for i := range n {
				if i%sampleEvery != 0 {
					if c.TrackOrder(&order) != nil {
						r.rejected++
					}
					continue
				}
				t0 := time.Now()
				err := c.TrackOrder(&order)
				d := int64(time.Since(t0))
				if err != nil {
					r.rejected++
				} else {
					r.lat = append(r.lat, d)
				}
			}
		}(&results[p])
	}
	runtime.GC()
	b.ResetTimer()
	close(start)
	wg.Wait()
	b.StopTimer()

	if err := c.Close(); err != nil {
		b.Logf("close: %v", err)
	}
	var lat []int64
	rejected := 0
	for _, r := range results {
		lat = append(lat, r.lat...)
		rejected += r.rejected
	}
	slices.Sort(lat)
	b.ReportMetric(float64(percentile(lat, 0.50)), "p50-ns")
	b.ReportMetric(float64(percentile(lat, 0.99)), "p99-ns")
	reportLoss(b, b.N, rejected, sk.Stats())
}

func percentile(sorted []int64, q float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(q*float64(len(sorted)-1)+0.5)]
}

// reportLoss reports the share of sent events that Enqueue rejected, and
// the share of the accepted ones that the sink counted: under 100 means
// events were lost, over 100 that some were delivered twice (a client
// retried a request the sink had held past the client's own timeout).
func reportLoss(b *testing.B, sent, rejected int, st sinkStats) {
	if st.Bad != 0 {
		b.Fatalf("sink got %d bad requests", st.Bad)
	}
	b.ReportMetric(100*float64(rejected)/float64(sent), "rejected-%")
	if accepted := sent - rejected; accepted > 0 {
		b.ReportMetric(100*float64(st.Events)/float64(accepted), "delivered-%")
	}
}

// ---- Memory: a burst into a stalled sink ----

// BenchmarkBurstMemory enqueues burstSize() Order Completed events from one
// goroutine into a stalled sink; one op is one burst. See the package doc
// for the metrics. ns/accepted is the mean time of the calls that accepted
// their event: each call is timed, and rejections are left out.
func BenchmarkBurstMemory(b *testing.B) {
	n := burstSize()
	forEachSDK(b, true, func(b *testing.B, s sdk) {
		if s.name == "floor" || s.name == "oldfloor" {
			// They have no queue: the old floor's calls wait for a
			// sender, and against a stalled sink wait forever; the
			// lean floor refuses once its 4 bodies are full.
			b.Skip("no queue")
		}
		var peak, live, sent, rejected, accepted, delivered int64
		var elapsed time.Duration
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			sk, c := startClient(b, s, clientConfig{})
			sk.Stall()
			runtime.GC()
			base := heapObjectBytes()
			hs := startHeapSampler(2 * time.Millisecond)
			b.StartTimer()

			for range n {
				t0 := time.Now()
				err := c.TrackOrder(&order)
				d := time.Since(t0)
				if err != nil {
					rejected++
				} else {
					elapsed += d
					accepted++
				}
			}

			b.StopTimer()
			p := hs.stop()
			runtime.GC()
			l := heapObjectBytes()
			peak = max(peak, int64(p)-int64(base))
			live = max(live, int64(l)-int64(base))

			// Let the client deliver before closing it: both competitors
			// drop batches waiting to be retried when Close is called.
			sk.Release()
			sk.WaitEvents(int64(n)-rejected, 3*time.Second, 60*time.Second)
			if err := c.Close(); err != nil {
				b.Logf("close: %v", err)
			}
			sent += int64(n)
			delivered += sk.Stats().Events
			if st := sk.Stats(); st.Bad != 0 {
				b.Fatalf("sink got %d bad requests", st.Bad)
			}
			b.StartTimer()
		}
		b.StopTimer()
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(live)/(1<<20), "live-heap-MB")
		if accepted > 0 {
			b.ReportMetric(float64(elapsed.Nanoseconds())/float64(accepted), "ns/accepted")
		}
		b.ReportMetric(float64(n), "events/burst")
		reportLoss(b, int(sent), int(rejected), sinkStats{Events: delivered})
	})
}

var heapObjectsMetric = "/memory/classes/heap/objects:bytes"

// heapObjectBytes is the memory occupied by live and not-yet-swept heap
// objects (runtime.MemStats.HeapAlloc), read without stopping the world.
func heapObjectBytes() uint64 {
	s := []metrics.Sample{{Name: heapObjectsMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

type heapSampler struct {
	done chan struct{}
	res  chan uint64
}

func startHeapSampler(every time.Duration) *heapSampler {
	h := &heapSampler{done: make(chan struct{}), res: make(chan uint64, 1)}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		s := []metrics.Sample{{Name: heapObjectsMetric}}
		var peak uint64
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-h.done:
				metrics.Read(s)
				h.res <- max(peak, s[0].Value.Uint64())
				return
			case <-t.C:
			}
		}
	}()
	return h
}

// stop ends sampling and returns the peak seen.
func (h *heapSampler) stop() uint64 {
	close(h.done)
	return <-h.res
}
