package analytics_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
)

// Benchmarks of the spool (WithSpool) against the memory queue: the cost of
// one Enqueue, and end-to-end throughput (Enqueue, batching, requests to an
// in-process transport that answers 200, acknowledgements and segment
// deletion, Flush). Figures are in BENCHMARKS.md, "The durable spool".

// spoolBenchModes are the queues compared: memory only, and the spool with
// the default fsync interval (1 s), with no fsync, and with an fsync per
// message.
var spoolBenchModes = []struct {
	name string
	opts func(dir string) []analytics.Option
}{
	{"memory", func(string) []analytics.Option { return nil }},
	{"spool-sync1s", func(dir string) []analytics.Option { return []analytics.Option{analytics.WithSpool(dir)} }},
	{"spool-nosync", func(dir string) []analytics.Option {
		return []analytics.Option{analytics.WithSpool(dir), analytics.WithSpoolSync(-1)}
	}},
	{"spool-syncevery", func(dir string) []analytics.Option {
		return []analytics.Option{analytics.WithSpool(dir), analytics.WithSpoolSync(0)}
	}},
}

func newSpoolBenchClient(b *testing.B, rt http.RoundTripper, opts ...analytics.Option) *analytics.Client {
	b.Helper()
	c, err := analytics.New("bench-key", append([]analytics.Option{
		analytics.WithEndpoint("http://127.0.0.1:1"),
		analytics.WithHTTPClient(&http.Client{Transport: rt}),
		analytics.WithLogger(slog.New(slog.DiscardHandler)),
	}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

func spoolBenchTrack() analytics.Track {
	return analytics.Track{UserID: "user-1234", Event: "Article Read",
		Properties: analytics.Properties{"title": "Durable delivery", "words": 1200, "paid": true}}
}

// BenchmarkSpoolEnqueue measures one Enqueue of a track with 3 properties,
// against a server that never answers, so that nothing is sent: what is
// measured is validation, encoding and queueing (and with a spool, the
// append). The memory queue holds 10,000; past that the memory client
// refuses (counted, cheap) while the spool keeps accepting onto disk, so
// the loop is cut into rounds that fit the queue, with a fresh client
// each.
func BenchmarkSpoolEnqueue(b *testing.B) {
	for _, m := range spoolBenchModes {
		b.Run(m.name, func(b *testing.B) {
			msg := spoolBenchTrack()
			b.ReportAllocs()
			done := 0
			for done < b.N {
				b.StopTimer()
				n := min(b.N-done, analytics.DefaultQueueCapacity)
				c := newSpoolBenchClient(b, newStall(), append(m.opts(b.TempDir()), analytics.WithFlushInterval(time.Hour))...)
				b.StartTimer()
				for range n {
					if err := c.Enqueue(msg); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
				_ = c.Shutdown(ctx)
				cancel()
				b.StartTimer()
				done += n
			}
		})
	}
}

// BenchmarkSpoolEndToEnd measures throughput: b.N tracks enqueued with
// EnqueueContext (waiting for room), delivered, and flushed; one op is one
// event.
func BenchmarkSpoolEndToEnd(b *testing.B) {
	for _, m := range spoolBenchModes {
		b.Run(m.name, func(b *testing.B) {
			c := newSpoolBenchClient(b, &okTransport{}, m.opts(b.TempDir())...)
			msg := spoolBenchTrack()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := c.EnqueueContext(benchCtx, msg); err != nil {
					b.Fatal(err)
				}
			}
			if err := c.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if st := c.Stats(); st.Delivered != int64(b.N) {
				b.Fatalf("delivered %d of %d", st.Delivered, b.N)
			}
		})
	}
}

// stall is a RoundTripper that answers nothing until the request's context
// ends.
type stall struct{}

func newStall() stall { return stall{} }

func (stall) RoundTrip(r *http.Request) (*http.Response, error) {
	<-r.Context().Done()
	return nil, r.Context().Err()
}
