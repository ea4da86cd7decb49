package analytics_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// This file tests Flush and Shutdown as barriers: what they wait for and
// which losses they report.

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

// TestFlushWaitsForRetries: Flush returns only once a batch being retried
// has its outcome, and leaves the client usable.
func TestFlushWaitsForRetries(t *testing.T) {
	s := newSink(t, analyticstest.Response{Status: http.StatusInternalServerError}, analyticstest.Response{Status: http.StatusInternalServerError})
	c := newTestClient(t, s.URL, deterministic(analytics.WithRetryWait(time.Millisecond, 2*time.Millisecond))...)
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "First"}))
	require.NoError(t, c.Flush(bounded(t)))
	assert.Len(t, s.AcceptedIDs(), 1, "delivered when Flush returns")
	require.NoError(t, c.Flush(bounded(t)), "an empty Flush")
	assert.Len(t, s.Requests(), 3, "an empty Flush sends nothing")
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "Second"}))
	require.NoError(t, c.Flush(bounded(t)))
	assert.Len(t, s.AcceptedIDs(), 2)
}

// TestFlushAndShutdownBothReport: a Flush waiting on a batch that Shutdown
// abandons and Shutdown itself both report the loss; neither takes it from
// the other.
func TestFlushAndShutdownBothReport(t *testing.T) {
	s := newSink(t)
	s.SetDefault(analyticstest.Response{Hang: true}) // until the client gives up
	c := newTestClient(t, s.URL, deterministic()...)
	for range 10 {
		require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "E"}))
	}
	flushed := make(chan error, 1)
	go func() { flushed <- c.Flush(bounded(t)) }()
	waitFor(t, "the Flush to cut the batch", func() bool { return c.Stats().InFlight > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	shutdownErr := c.Shutdown(ctx)
	for name, err := range map[string]error{"Flush": <-flushed, "Shutdown": shutdownErr} {
		var de *analytics.DeliveryError
		require.ErrorAs(t, err, &de, name)
		assert.Equal(t, int64(10), de.Undelivered, name)
	}
	// A Flush that finished before Shutdown began has reported its losses:
	// Shutdown does not count them again.
	s2 := newSink(t)
	s2.SetDefault(analyticstest.Response{Status: http.StatusBadRequest})
	c2 := newTestClient(t, s2.URL, deterministic()...)
	require.NoError(t, c2.Enqueue(analytics.Track{UserID: "u", Event: "E"}))
	require.Error(t, c2.Flush(bounded(t)))
	require.NoError(t, c2.Close())
}

// TestFlushWhileEnqueueing: with a server that takes 2s (on synctest's
// clock) to answer, Flush returns once everything enqueued before it is
// delivered, while three goroutines keep enqueueing, and does not wait
// for what they enqueue later.
func TestFlushWhileEnqueueing(t *testing.T) {
	srv := analyticstest.NewServer(t)
	synctest.Test(t, func(t *testing.T) {
		tr := noKeepAlive()
		defer tr.CloseIdleConnections()
		slow := &clockTransport{next: tr, delay: 2 * time.Second}
		c := newTestClient(t, srv.URL, through(slow, analytics.WithBatchSize(50), analytics.WithFlushInterval(time.Second))...)

		var mu sync.Mutex
		enqueued := map[string]bool{}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for g := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					id := fmt.Sprintf("g%d-%d", g, i)
					if err := c.Enqueue(track(id)); err != nil {
						t.Errorf("Enqueue: %v", err)
						return
					}
					mu.Lock()
					enqueued[id] = true
					mu.Unlock()
					select {
					case <-stop:
						return
					case <-time.After(200 * time.Millisecond):
					}
				}
			}()
		}

		time.Sleep(5 * time.Second)
		mu.Lock()
		before := make([]string, 0, len(enqueued))
		for id := range enqueued {
			before = append(before, id)
		}
		mu.Unlock()
		start := time.Now()
		require.NoError(t, c.Flush(bounded(t)))
		took := time.Since(start)
		accepted := acceptedIDs(srv)
		for _, id := range before {
			assert.Equal(t, 1, accepted[id], "message %s enqueued before Flush", id)
		}
		assert.GreaterOrEqual(t, took, 2*time.Second, "Flush waited for the slow server")
		assert.Less(t, took, 8*time.Second, "Flush did not wait for later messages")

		time.Sleep(3 * time.Second)
		close(stop)
		wg.Wait()
		require.NoError(t, c.Close())
		mu.Lock()
		defer mu.Unlock()
		assert.Len(t, acceptedIDs(srv), len(enqueued), "everything delivered by Close")
		assert.Greater(t, len(enqueued), len(before))
		statsAddUp(t, c.Stats())
	})
}
