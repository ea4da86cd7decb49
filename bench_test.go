package analytics_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
)

// In-module micro benchmarks of the hot path: Enqueue (validate, encode,
// queue) and the pipeline behind it, with an in-process transport that
// answers 200 at once, so that no network or server cost is measured. The
// comparison with other libraries lives in the benchmarks module
// (benchmarks/, see BENCHMARKS.md).

// okTransport answers every request with 200 and an empty JSON object,
// after reading the body.
type okTransport struct{ requests atomic.Int64 }

func (t *okTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	t.requests.Add(1)
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader("{}")),
		Request:    r,
	}, nil
}

func newBenchClient(b *testing.B, opts ...analytics.Option) *analytics.Client {
	b.Helper()
	opts = append([]analytics.Option{
		analytics.WithEndpoint("http://127.0.0.1:1"),
		analytics.WithHTTPClient(&http.Client{Transport: &okTransport{}}),
		analytics.WithLogger(slog.New(slog.DiscardHandler)),
	}, opts...)
	c, err := analytics.New("bench-key", opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// benchEnqueue calls send b.N times on one goroutine, waiting for room when
// the queue is full, and then flushes; one op is one event.
func benchEnqueue(b *testing.B, send func(c *analytics.Client) error, opts ...analytics.Option) {
	c := newBenchClient(b, opts...)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := send(c); err != nil {
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
}

var benchCtx = context.Background()

func BenchmarkEnqueueTrack3Props(b *testing.B) {
	benchEnqueue(b, enqueueTrack3Props)
}

// enqueueTrack3Props enqueues a Track with 3 properties.
func enqueueTrack3Props(c *analytics.Client) error {
	return c.EnqueueContext(benchCtx, analytics.Track{
		UserID:     "user-8f14e45fceea167a",
		Event:      "Button Clicked",
		Properties: analytics.Properties{"button": "checkout", "plan": "pro", "items": 3},
	})
}

func BenchmarkEnqueueIdentify5Traits(b *testing.B) {
	benchEnqueue(b, func(c *analytics.Client) error {
		return c.EnqueueContext(benchCtx, analytics.Identify{
			UserID: "user-8f14e45fceea167a",
			Traits: analytics.Traits{
				"email": "ada@example.com", "name": "Ada Lovelace", "plan": "pro",
				"logins": 42, "verified": true,
			},
		})
	})
}

// BenchmarkEnqueueTrackOrderMap is "Order Completed" with two products
// sent as a map-based Track.
func BenchmarkEnqueueTrackOrderMap(b *testing.B) {
	benchEnqueue(b, func(c *analytics.Client) error {
		return c.EnqueueContext(benchCtx, analytics.Track{
			UserID: "user-8f14e45fceea167a",
			Event:  "Order Completed",
			Properties: analytics.Properties{
				"order_id": "50314b8e9bcf000000000000",
				"total":    27.5,
				"revenue":  25.0,
				"currency": "USD",
				"products": []map[string]any{
					{"product_id": "507f1f77bcf86cd799439011", "sku": "45790-32", "name": "Monopoly: 3rd Edition", "price": 19.0, "quantity": 1},
					{"product_id": "505bd76785ebb509fc183733", "sku": "46493-32", "name": "Uno Card Game", "price": 3.0, "quantity": 2},
				},
			},
		})
	})
}

// BenchmarkEnqueueGzip is BenchmarkEnqueueTrack3Props with compression.
func BenchmarkEnqueueGzip(b *testing.B) {
	benchEnqueue(b, func(c *analytics.Client) error {
		return c.EnqueueContext(benchCtx, analytics.Track{
			UserID:     "user-8f14e45fceea167a",
			Event:      "Button Clicked",
			Properties: analytics.Properties{"button": "checkout", "plan": "pro", "items": 3},
		})
	}, analytics.WithGzip(true))
}

// BenchmarkEnqueueRejected measures Enqueue when the queue is full and the
// message is rejected with ErrQueueFull: the pipeline is stalled by a
// transport that never answers until the benchmark ends.
func BenchmarkEnqueueRejected(b *testing.B) {
	release := make(chan struct{})
	c := newBenchClient(b,
		analytics.WithHTTPClient(&http.Client{Transport: stallTransport(release)}),
		analytics.WithQueueCapacity(100), analytics.WithBatchSize(10), analytics.WithMaxInFlight(1))
	b.Cleanup(func() { close(release) })
	msg := func() analytics.Message {
		return analytics.Track{UserID: "u", Event: "Button Clicked", Properties: analytics.Properties{"button": "checkout"}}
	}
	// The sender holds one batch and the batcher waits to hand it the
	// next; then the queue fills for good.
	for range 3 {
		for c.Enqueue(msg()) == nil {
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := c.Enqueue(msg()); err != analytics.ErrQueueFull {
			b.Fatalf("got %v, want ErrQueueFull", err)
		}
	}
}

type stallTransport chan struct{}

func (s stallTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	select {
	case <-s:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	return (&okTransport{}).RoundTrip(r)
}

// BenchmarkEnqueueParallel is Enqueue from GOMAXPROCS goroutines.
func BenchmarkEnqueueParallel(b *testing.B) {
	c := newBenchClient(b, analytics.WithFlushInterval(time.Hour))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := c.EnqueueContext(benchCtx, analytics.Track{
				UserID:     "user-8f14e45fceea167a",
				Event:      "Button Clicked",
				Properties: analytics.Properties{"button": "checkout", "plan": "pro", "items": 3},
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEnqueueTypedNoSlices is a typed helper without slices, whose
// *float64 field (from analytics.Float64) stays on the caller's stack: the
// message does not escape, so the library's encoding allocates nothing
// (the allocations left are the queue's, see TestEnqueueTypedAllocs).
func BenchmarkEnqueueTypedNoSlices(b *testing.B) {
	benchEnqueue(b, func(c *analytics.Client) error {
		return c.EnqueueContext(benchCtx, analytics.ProductClicked{
			UserID:    "user-8f14e45fceea167a",
			ProductID: "507f1f77bcf86cd799439011",
			Name:      "Monopoly: 3rd Edition",
			Price:     analytics.Float64(19.99),
		})
	})
}

// BenchmarkEnqueueOrderCompleted is the typed helper with two products.
func BenchmarkEnqueueOrderCompleted(b *testing.B) {
	benchEnqueue(b, enqueueOrderCompleted)
}

// enqueueOrderCompleted enqueues the typed OrderCompleted with two
// products, built as a literal.
func enqueueOrderCompleted(c *analytics.Client) error {
	return c.EnqueueContext(benchCtx, analytics.OrderCompleted{
		UserID:   "user-8f14e45fceea167a",
		OrderID:  "50314b8e9bcf000000000000",
		Total:    analytics.Float64(27.5),
		Revenue:  analytics.Float64(25),
		Currency: "USD",
		Products: []analytics.Product{
			{ProductID: "507f1f77bcf86cd799439011", SKU: "45790-32", Name: "Monopoly: 3rd Edition", Price: analytics.Float64(19), Quantity: analytics.Int(1)},
			{ProductID: "505bd76785ebb509fc183733", SKU: "46493-32", Name: "Uno Card Game", Price: analytics.Float64(3), Quantity: analytics.Int(2)},
		},
	})
}

// loopProduct is a product of the caller's own domain type, which the
// "loop" benchmarks convert to analytics.Product as an adapter would.
type loopProduct struct {
	id, sku, name string
	price         float64
	quantity      int
}

var loopProducts = []loopProduct{
	{"507f1f77bcf86cd799439011", "45790-32", "Monopoly: 3rd Edition", 19, 1},
	{"505bd76785ebb509fc183733", "46493-32", "Uno Card Game", 3, 2},
}

// BenchmarkEnqueueOrderCompletedLoop is BenchmarkEnqueueOrderCompleted
// with the products converted in a loop from a domain type into a slice
// made at run time, as an adapter does: the allocations beyond the queue's
// are the caller's (the slice, whose length the compiler does not know,
// and each Float64/Int pointer stored in it, which escape with it).
func BenchmarkEnqueueOrderCompletedLoop(b *testing.B) {
	products := loopProducts
	benchEnqueue(b, func(c *analytics.Client) error {
		ps := make([]analytics.Product, len(products))
		for i, p := range products {
			ps[i] = analytics.Product{ProductID: p.id, SKU: p.sku, Name: p.name, Price: analytics.Float64(p.price), Quantity: analytics.Int(p.quantity)}
		}
		return c.EnqueueContext(benchCtx, analytics.OrderCompleted{
			UserID: "user-8f14e45fceea167a", OrderID: "50314b8e9bcf000000000000",
			Total: analytics.Float64(27.5), Revenue: analytics.Float64(25), Currency: "USD", Products: ps,
		})
	})
}

// BenchmarkEnqueueLatency is Enqueue of the typed OrderCompleted from 8
// producers against a stalled transport (so nearly every call is rejected
// with ErrQueueFull, as in the benchmarks module's Enqueue8Producers), with
// the latency of every 8th call recorded. "literal" builds the message as a
// composite literal, which costs the caller no allocation; "loop" converts
// products in a loop, as an adapter from a domain type would, which costs
// the caller an allocation per Float64/Int value stored in the slice (and
// one for the slice when its length is not known at compile time), and the
// garbage collection they cause shows in the tail.
func BenchmarkEnqueueLatency(b *testing.B) {
	products := loopProducts
	literal := func(c *analytics.Client) error {
		return c.Enqueue(analytics.OrderCompleted{
			UserID: "user-8f14e45fceea167a", OrderID: "50314b8e9bcf000000000000",
			Total: analytics.Float64(27.5), Revenue: analytics.Float64(25), Currency: "USD",
			Products: []analytics.Product{
				{ProductID: "507f1f77bcf86cd799439011", SKU: "45790-32", Name: "Monopoly: 3rd Edition", Price: analytics.Float64(19), Quantity: analytics.Int(1)},
				{ProductID: "505bd76785ebb509fc183733", SKU: "46493-32", Name: "Uno Card Game", Price: analytics.Float64(3), Quantity: analytics.Int(2)},
			},
		})
	}
	loop := func(c *analytics.Client) error {
		ps := make([]analytics.Product, len(products))
		for i, p := range products {
			ps[i] = analytics.Product{ProductID: p.id, SKU: p.sku, Name: p.name, Price: analytics.Float64(p.price), Quantity: analytics.Int(p.quantity)}
		}
		return c.Enqueue(analytics.OrderCompleted{
			UserID: "user-8f14e45fceea167a", OrderID: "50314b8e9bcf000000000000",
			Total: analytics.Float64(27.5), Revenue: analytics.Float64(25), Currency: "USD", Products: ps,
		})
	}
	for _, bc := range []struct {
		name string
		send func(*analytics.Client) error
	}{{"literal", literal}, {"loop", loop}} {
		b.Run(bc.name, func(b *testing.B) {
			release := make(chan struct{})
			c := newBenchClient(b, analytics.WithHTTPClient(&http.Client{Transport: stallTransport(release)}))
			b.Cleanup(func() { close(release) })
			const producers = 8
			lat := make([][]int64, producers)
			rejected := make([]int, producers)
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			for p := range producers {
				n := b.N / producers
				if p == 0 {
					n += b.N % producers
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					l := make([]int64, 0, n/8+1)
					for i := range n {
						if i%8 != 0 {
							if bc.send(c) != nil {
								rejected[p]++
							}
							continue
						}
						t0 := time.Now()
						err := bc.send(c)
						l = append(l, int64(time.Since(t0)))
						if err != nil {
							rejected[p]++
						}
					}
					lat[p] = l
				}()
			}
			wg.Wait()
			b.StopTimer()
			var all []int64
			r := 0
			for p := range producers {
				all = append(all, lat[p]...)
				r += rejected[p]
			}
			slices.Sort(all)
			b.ReportMetric(float64(all[len(all)/2]), "p50-ns")
			b.ReportMetric(float64(all[int(0.99*float64(len(all)-1)+0.5)]), "p99-ns")
			b.ReportMetric(100*float64(r)/float64(b.N), "rejected-%")
		})
	}
}
