package analytics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// This file tests that what the client holds stays bounded: the heap
// while the API stalls or every batch is lost, and the goroutines of a
// burst. These tests measure the whole process (the heap, the number of
// goroutines), so they do not call t.Parallel: go test runs them one after
// the other, before the parallel tests start.

// TestStalledServerHeapBounded: against an API that never answers, with
// the default queue, the heap the client holds stays within twice the
// bytes its messages take plus a constant: a queued message does not pin a
// pooled buffer behind it, even when the pools are emptied between
// messages (as garbage collection does under load and under -race). The
// pools are emptied before every message (DropPooledEncoders); the long
// mode also runs a real collection every 5 messages (2,000 collections of
// a growing heap, about 10 s).
func TestStalledServerHeapBounded(t *testing.T) {
	c, err := analytics.New(testKey,
		analytics.WithHTTPClient(&http.Client{Transport: keepNothing{}}),
		analytics.WithFlushInterval(time.Hour),
		analytics.WithLogger(quietLogger()))
	require.NoError(t, err)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_ = c.Shutdown(ctx)
	}()

	before := liveHeap()
	msgBytes := int64(0)
	for i := 0; ; i++ {
		analytics.DropPooledEncoders()
		if longTests() && i%5 == 0 {
			runtime.GC() // empties the pools, as a busy program's GC does
		}
		err := c.Enqueue(analytics.Track{UserID: "user-1", Event: "Stalled", Properties: analytics.Properties{"i": i}})
		if errors.Is(err, analytics.ErrQueueFull) {
			break
		}
		require.NoError(t, err)
		require.Less(t, i, 2*analytics.DefaultQueueCapacity, "the queue never filled")
	}
	st := c.Stats()
	require.Equal(t, int64(analytics.DefaultQueueCapacity), st.Queued, "the default queue is full")
	msgBytes = st.QueuedBytes * (st.Queued + st.InFlight) / st.Queued
	growth := int64(liveHeap()) - int64(before)
	// The constant: the senders' request bodies and per-message
	// bookkeeping (a few dozen bytes each).
	const constant = 4 << 20
	t.Logf("%d messages queued, %d in flight, %d message bytes: heap grew %d bytes", st.Queued, st.InFlight, msgBytes, growth)
	assert.LessOrEqual(t, growth, 2*msgBytes+constant)
	assert.LessOrEqual(t, growth, int64(2*analytics.DefaultQueueMaxBytes+constant))
}

// keepNothing is an API that keeps nothing of what it is sent: with no
// status it never answers (each round trip waits for its request's
// context to end); with one it answers it at once. The heap tests use it
// rather than the public fake, which decodes and keeps every request:
// here 4 held batches of 1,000 messages (about 8 MB), or 41,000 refused
// ones, which the heap bound would count as the client's (and which cost
// 1.5 s to check).
type keepNothing struct{ status int }

func (k keepNothing) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	if k.status == 0 {
		<-r.Context().Done()
		return nil, r.Context().Err()
	}
	return &http.Response{
		StatusCode: k.status, Status: http.StatusText(k.status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   io.NopCloser(strings.NewReader(`{"error":"refused"}`)), Request: r,
	}, nil
}

// TestQueueFullWhileStalled: with the server stalled, Enqueue returns
// ErrQueueFull instead of waiting, and memory stays bounded.
func TestQueueFullWhileStalled(t *testing.T) {
	release := make(chan struct{})
	s := analyticstest.NewServer(t)
	s.SetDefault(analyticstest.Response{Hold: release}) // stalled until release
	const capacity = 1000
	const maxBytes = 1 << 20
	c := newTestClient(t, s.URL, deterministic(analytics.WithBatchSize(100), analytics.WithMaxInFlight(2), analytics.WithQueueCapacity(capacity), analytics.WithQueueMaxBytes(maxBytes))...)

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	pad := strings.Repeat("p", 1000)
	accepted, full := 0, 0
	for range 20_000 {
		err := c.Enqueue(analytics.Track{UserID: "u", Event: "Burst", Properties: analytics.Properties{"pad": pad}})
		switch {
		case err == nil:
			accepted++
		case errors.Is(err, analytics.ErrQueueFull):
			full++
		default:
			require.NoError(t, err, "Enqueue")
		}
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)

	assert.Greater(t, full, 15_000, "most of the burst is refused")
	st := c.Stats()
	assert.LessOrEqual(t, st.Queued, int64(capacity))
	assert.LessOrEqual(t, st.QueuedBytes, int64(maxBytes))
	assert.Equal(t, int64(full), st.DroppedQueueFull)
	assert.Equal(t, int64(accepted), st.Enqueued)
	// The queue, two batches being sent and one waiting for a sender: a
	// few MiB. Twenty thousand messages would be over 20 MiB.
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	assert.Less(t, growth, int64(8<<20), "heap grew by %d bytes", growth)

	close(release)
	require.NoError(t, c.Close())
	assert.Len(t, acceptedIDs(s), accepted, "every accepted message is delivered once the server recovers")
}

// TestBlockedEnqueueContextHoldsLittle: callers blocked in EnqueueContext
// on a full queue hold their message, not an encoder's buffers.
func TestBlockedEnqueueContextHoldsLittle(t *testing.T) {
	release := make(chan struct{})
	s := analyticstest.NewServer(t)
	s.SetDefault(analyticstest.Response{Hold: release}) // stalled until release
	c := newTestClient(t, s.URL, deterministic(analytics.WithBatchSize(1), analytics.WithMaxInFlight(1), analytics.WithQueueCapacity(1))...)
	msg := analytics.Track{UserID: "u", Event: "E"}
	waitFor(t, "a full queue and two messages in flight", func() bool {
		_ = c.Enqueue(msg)
		return c.Stats().Queued >= 1 && c.Stats().InFlight >= 2
	})
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	const callers = 2000
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var blocked atomic.Int64
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			blocked.Add(1)
			assert.ErrorIs(t, c.EnqueueContext(ctx, msg), context.Canceled)
		}()
	}
	for blocked.Load() < callers {
		runtime.Gosched()
	}
	// Callers still on their way to the wait hold more for a moment;
	// measure until they have all settled, or give up after the test's
	// patience: a regression never settles, a slow machine does later. A
	// waiting caller keeps its encoder only while its buffer is at most
	// 4 KiB (about 1.5 KiB here), else a copy of the message.
	growth := int64(math.MaxInt64)
	settle, stop := context.WithTimeout(context.Background(), patience)
	defer stop()
	for settle.Err() == nil {
		var during runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&during)
		growth = min(growth, int64(during.HeapAlloc)-int64(before.HeapAlloc))
		if growth < 8<<20 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	close(release)

	// 2,000 callers holding a 16 KiB chunk each would be over 30 MiB.
	assert.Less(t, growth, int64(8<<20), "heap grew by at least %d bytes with %d blocked callers", growth, callers)
}

// TestGoroutinesBounded: a burst of 20,000 messages against a server that
// never answers adds the fixed pool of WithMaxInFlight senders, the
// batcher, and for each hanging request the goroutines net/http holds for
// it: nothing per message or per batch. Through the in-memory fake
// (analyticstest.Transport) that is one (net/http's watcher of the
// per-attempt timeout); over a loopback connection six (that watcher, the
// transport's reader, writer and cancel watcher, the server's handler and
// background reader).
func TestGoroutinesBounded(t *testing.T) {
	const inFlight = 8
	rows := []struct {
		name string
		// perRequest is the goroutines one hanging request holds besides
		// its sender; slack covers the batcher and, over a socket, a
		// connection dialed but not yet used.
		perRequest, slack int
		rt                func(t *testing.T) (string, http.RoundTripper, func())
	}{
		{"in-memory transport", 1, 2, func(t *testing.T) (string, http.RoundTripper, func()) {
			tr := analyticstest.NewTransport(t)
			tr.SetDefault(analyticstest.Response{Hang: true})
			return tr.URL, tr, tr.Close
		}},
		{"loopback server", 6, 4, func(t *testing.T) (string, http.RoundTripper, func()) {
			srv := analyticstest.NewServer(t)
			srv.SetDefault(analyticstest.Response{Hang: true})
			tr := &http.Transport{}
			return srv.URL, tr, func() { srv.Close(); tr.CloseIdleConnections() }
		}},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			endpoint, rt, release := r.rt(t)
			runtime.GC()
			before := runtime.NumGoroutine()
			c, err := analytics.New(testKey, analytics.WithEndpoint(endpoint), analytics.WithLogger(quietLogger()),
				analytics.WithHTTPClient(&http.Client{Transport: rt}), analytics.WithMaxInFlight(inFlight),
				analytics.WithBatchSize(50), analytics.WithQueueCapacity(1000), analytics.WithRequestTimeout(time.Hour))
			require.NoError(t, err)
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 2500 {
						err := c.Enqueue(track(fmt.Sprintf("%d-%d", g, i)))
						if err != nil && !errors.Is(err, analytics.ErrQueueFull) {
							assert.NoError(t, err, "Enqueue")
							return
						}
					}
				}()
			}
			wg.Wait()
			waitFor(t, "every sender busy", func() bool { return c.Stats().InFlight >= inFlight*50 })
			growth := runtime.NumGoroutine() - before
			limit := inFlight*(1+r.perRequest) + r.slack
			t.Logf("goroutines: %d before, +%d with %d requests hanging (limit %d)", before, growth, inFlight, limit)
			assert.LessOrEqual(t, growth, limit)
			assert.Greater(t, c.Stats().DroppedQueueFull, int64(10_000), "the burst overflowed the queue")

			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			require.NotNil(t, isDeliveryError(c.Shutdown(ctx)))
			release()
		})
	}
}

// liveHeap is the heap in use after two collections (the second frees
// what the first left to finalizers and emptied pools).
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestLostBatchesKeepNothing: a client whose every batch is lost and that
// is never flushed (a service with a revoked key) does not grow: 40,000
// lost batches add less than 1 MB to the heap.
func TestLostBatchesKeepNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("40,000 requests")
	}
	c, err := analytics.New(testKey,
		analytics.WithHTTPClient(&http.Client{Transport: keepNothing{status: http.StatusBadRequest}}),
		analytics.WithBatchSize(1),
		analytics.WithFlushInterval(time.Hour),
		analytics.WithLogger(quietLogger()))
	require.NoError(t, err)
	defer c.Close()
	ctx := bounded(t)
	send := func(n int) {
		for i := range n {
			require.NoError(t, c.EnqueueContext(ctx, analytics.Track{UserID: "u", Event: "Lost", Properties: analytics.Properties{"i": i}}))
		}
		want := c.Stats().Enqueued
		for c.Stats().Failed < want {
			select {
			case <-ctx.Done():
				require.FailNow(t, "timed out", "%+v", c.Stats())
			case <-time.After(time.Millisecond):
			}
		}
	}
	send(1000) // warm up pools and connections
	before := liveHeap()
	send(40_000)
	after := liveHeap()
	growth := int64(after) - int64(before)
	t.Logf("heap growth over 40,000 lost batches: %d bytes", growth)
	assert.Less(t, growth, int64(1<<20))
	assert.Equal(t, int64(41_000), c.Stats().FailedStatus)
	de := isDeliveryError(c.Close())
	require.NotNil(t, de)
	assert.Equal(t, int64(41_000), de.Undelivered, "Shutdown still reports every loss no Flush reported")
}
