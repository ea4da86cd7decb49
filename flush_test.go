package analytics_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// This file tests Flush and Shutdown as barriers: what they wait for and
// which losses they report.

// refusingTransport answers every request 400 at once, without a network.
type refusingTransport struct{ n atomic.Int64 }

func (rt *refusingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.n.Add(1)
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusBadRequest, Status: "400 Bad Request", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   io.NopCloser(strings.NewReader(`{"error":"refused"}`)), Request: r,
	}, nil
}

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
	rt := &refusingTransport{}
	c, err := analytics.New(testKey,
		analytics.WithHTTPClient(&http.Client{Transport: rt}),
		analytics.WithBatchSize(1),
		analytics.WithFlushInterval(time.Hour),
		analytics.WithLogger(quietLogger()))
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	send := func(n int) {
		for i := range n {
			require.NoError(t, c.EnqueueContext(ctx, analytics.Track{UserID: "u", Event: "Lost", Properties: analytics.Properties{"i": i}}))
		}
		want := c.Stats().Enqueued
		for c.Stats().Failed < want {
			select {
			case <-ctx.Done():
				t.Fatalf("timed out: %+v", c.Stats())
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

// gateTransport answers request n (from 1) with status[n-1] once gate n
// is opened, or fails when the request's context ends. It makes no
// connection, so it works inside a synctest bubble.
type gateTransport struct {
	status []int
	gates  []chan struct{}
	n      atomic.Int64
}

func newGateTransport(status ...int) *gateTransport {
	g := &gateTransport{status: status}
	for range status {
		g.gates = append(g.gates, make(chan struct{}))
	}
	return g
}

func (g *gateTransport) open(n int) { close(g.gates[n-1]) }

func (g *gateTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	n := int(g.n.Add(1))
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	if n > len(g.gates) {
		return nil, fmt.Errorf("unexpected request %d", n)
	}
	select {
	case <-g.gates[n-1]:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	resp := okResponse(r)
	resp.StatusCode = g.status[n-1]
	resp.Status = http.StatusText(g.status[n-1])
	return resp, nil
}

// TestConcurrentFlushesBothReportLoss: a Flush stands for what was
// enqueued when it was called, even while the batcher is busy. Flush A and
// Flush B are both called after message 1, whose batch is then lost while
// B waits for the batcher (the only sender is busy and the batcher is
// blocked handing it message 2): both report the loss.
func TestConcurrentFlushesBothReportLoss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := newGateTransport(400, 200)
		c, err := analytics.New(testKey,
			analytics.WithHTTPClient(&http.Client{Transport: gate}),
			analytics.WithBatchSize(1),
			analytics.WithMaxInFlight(1),
			analytics.WithFlushInterval(time.Hour),
			analytics.WithRetryWait(time.Millisecond, time.Millisecond),
			analytics.WithLogger(quietLogger()))
		require.NoError(t, err)

		require.NoError(t, c.Enqueue(track("m1")))
		synctest.Wait() // m1 is with the sender, held at gate 1
		var wg sync.WaitGroup
		var errA, errB error
		wg.Go(func() { errA = c.Flush(bounded(t)) })
		synctest.Wait()
		require.NoError(t, c.Enqueue(track("m2")))
		synctest.Wait() // the batcher holds m2, waiting for the sender
		wg.Go(func() { errB = c.Flush(bounded(t)) })
		synctest.Wait()

		gate.open(1) // m1 is lost
		synctest.Wait()
		gate.open(2) // m2 is delivered
		wg.Wait()

		for name, err := range map[string]error{"A": errA, "B": errB} {
			de := isDeliveryError(err)
			if assert.NotNil(t, de, "Flush %s: %v", name, err) {
				assert.Equal(t, int64(1), de.Undelivered, "Flush %s", name)
			}
		}
		require.NoError(t, c.Close(), "the loss was reported by Flush already")
	})
}

// TestFlushAfterFinishedFlushReportsNothingNew: a loss reported by a
// finished Flush is not reported again by a later Flush or by Shutdown,
// but a new loss is.
func TestFlushAfterFinishedFlushReportsNothingNew(t *testing.T) {
	rt := &refusingTransport{}
	c, err := analytics.New(testKey,
		analytics.WithHTTPClient(&http.Client{Transport: rt}),
		analytics.WithFlushInterval(time.Hour),
		analytics.WithLogger(quietLogger()))
	require.NoError(t, err)
	require.NoError(t, c.Enqueue(track("x1")))
	de := isDeliveryError(c.Flush(bounded(t)))
	require.NotNil(t, de)
	assert.Equal(t, int64(1), de.Undelivered)
	assert.NoError(t, c.Flush(bounded(t)))
	require.NoError(t, c.Enqueue(track("x2")))
	require.NoError(t, c.Enqueue(track("x3")))
	de = isDeliveryError(c.Close())
	require.NotNil(t, de)
	assert.Equal(t, int64(2), de.Undelivered)
}
