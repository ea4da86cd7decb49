package benchmarks

import (
	"fmt"
	"testing"
)

// The benchmarks of issue 22's goals, in go test form: the tail of Enqueue
// with 8 producers, cdpkit's Enqueue and end-to-end path with the memory
// queue and the spool, and the cost of starting a client. cmd/scorecard
// runs the same code (tail.go, queuemode.go) out of process, in rotated
// rounds, for the figures in BENCHMARKS.md; here the sink shares the
// client's process and the figures are one run's.

// tailClients are the rows of the tail benchmark: cdpkit's plain Enqueue,
// Segment's (which waits on its channel) and the lean floor refusing when
// every body is in use.
var tailClients = []string{"cdpkit", "segment", "floor"}

// BenchmarkTail8Producers: one op is one call of 8 producers' together,
// paced at 50,000 calls a second in all or unthrottled; the metrics are
// percentiles of the accepted calls (see RunTail) and the share refused.
func BenchmarkTail8Producers(b *testing.B) {
	for _, pacing := range []struct {
		name string
		rate float64
	}{{"paced-50k", 50_000}, {"unthrottled", 0}} {
		b.Run(pacing.name, func(b *testing.B) {
			for _, name := range tailClients {
				s, _ := lookupSDK(name)
				b.Run(name, func(b *testing.B) {
					_, c := startClient(b, s, clientConfig{})
					b.ResetTimer()
					r := RunTail(TailConfig{Producers: 8, Rate: pacing.rate, Calls: b.N}, c.Track3)
					b.StopTimer()
					if err := c.Close(); err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64(r.Latency.Quantile(0.50)), "p50-ns")
					b.ReportMetric(float64(r.Latency.Quantile(0.99)), "p99-ns")
					b.ReportMetric(float64(r.Latency.Quantile(0.999)), "p999-ns")
					b.ReportMetric(100*float64(r.Refused)/float64(r.Calls), "refused-%")
				})
			}
		})
	}
}

// BenchmarkQueueEnqueue: cdpkit's Enqueue with each queue mode, from 1, 4
// and 8 producers, against a server that never answers (RunEnqueue). ns/op
// is the calls' wall time over their number, New and Shutdown left out;
// allocs/op and B/op count every goroutine's allocations in that time.
func BenchmarkQueueEnqueue(b *testing.B) {
	forEachQueueMode(b, func(b *testing.B, m QueueMode, producers int) {
		c, err := RunEnqueue(m, producers, b.N, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		reportCost(b, c)
	})
}

// BenchmarkQueueE2E: cdpkit end to end with each queue mode
// (RunQueueE2E): b.N events from 1, 4 or 8 producers with EnqueueContext,
// delivered to the sink, Close included.
func BenchmarkQueueE2E(b *testing.B) {
	forEachQueueMode(b, func(b *testing.B, m QueueMode, producers int) {
		sk := newSink()
		defer sk.Close()
		c, err := RunQueueE2E(m, producers, b.N, b.TempDir(), sk.URL())
		if err != nil {
			b.Fatal(err)
		}
		if st := sk.Stats(); st.Events != int64(b.N) || st.Bad != 0 {
			b.Fatalf("the sink counted %d events (%d bad requests), want %d", st.Events, st.Bad, b.N)
		}
		reportCost(b, c)
	})
}

func forEachQueueMode(b *testing.B, fn func(b *testing.B, m QueueMode, producers int)) {
	for _, m := range QueueModes {
		for _, p := range []int{1, 4, 8} {
			b.Run(fmt.Sprintf("%s/producers-%d", m, p), func(b *testing.B) { fn(b, m, p) })
		}
	}
}

// reportCost replaces the framework's figures with the measured window's.
func reportCost(b *testing.B, c EnqueueCost) {
	b.ReportAllocs()
	n := float64(c.Calls)
	b.ReportMetric(float64(c.Wall)/n, "ns/op")
	b.ReportMetric(float64(c.CPU)/n, "cpu-ns/op")
	b.ReportMetric(float64(c.Mallocs)/n, "allocs/op")
	b.ReportMetric(float64(c.Bytes)/n, "B/op")
	b.ReportMetric(float64(c.Latency.Quantile(0.99)), "p99-ns")
}

// startupEvents is what BenchmarkStartup sends after New.
const startupEvents = 1000

// BenchmarkStartup: one op is New, startupEvents Track events and Close,
// as a Lambda cold start or a short script pays it (in this process, so a
// heap the runtime has grown already; cmd/scorecard measures it in fresh
// processes).
func BenchmarkStartup(b *testing.B) {
	for _, name := range []string{"cdpkit", "segment", "floor"} {
		s, _ := lookupSDK(name)
		b.Run(name, func(b *testing.B) {
			sk := newSink()
			defer sk.Close()
			b.ReportAllocs()
			for b.Loop() {
				tr := newTransport()
				c, err := s.new(clientConfig{endpoint: sk.URL(), transport: tr, wait: true})
				if err != nil {
					b.Fatal(err)
				}
				for range startupEvents {
					if err := c.Track3(); err != nil {
						b.Fatal(err)
					}
				}
				if err := c.Close(); err != nil {
					b.Fatal(err)
				}
				tr.CloseIdleConnections()
			}
			if st := sk.Stats(); st.Events != int64(b.N*startupEvents) || st.Bad != 0 {
				b.Fatalf("the sink counted %d events (%d bad requests), want %d", st.Events, st.Bad, b.N*startupEvents)
			}
		})
	}
}
