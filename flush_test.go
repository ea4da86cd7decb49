package analytics_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// This file tests Flush as a barrier: what it waits for (everything
// enqueued before it, retries included, nothing enqueued after) and which
// losses it reports, alone, concurrently, and beside Shutdown.

// TestConcurrentFlushesBothReportLoss: a Flush stands for what was
// enqueued when it was called, even while the batcher is busy. Flush A and
// Flush B are both called after message 1, whose batch is then lost while
// B waits for the batcher (the only sender is busy and the batcher is
// blocked handing it message 2): both report the loss.
func TestConcurrentFlushesBothReportLoss(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		gate1, gate2 := make(chan struct{}), make(chan struct{})
		tr, c := newFakeClient(t, analytics.WithBatchSize(1), analytics.WithMaxInFlight(1), analytics.WithRetryWait(time.Millisecond, time.Millisecond))
		// Message 1 is refused (400) once gate1 opens, message 2 accepted
		// once gate2 does; a third request would be answered 200, so the
		// test counts them.
		tr.Script(analyticstest.Response{Status: http.StatusBadRequest, Hold: gate1}, analyticstest.Response{Hold: gate2})

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

		close(gate1) // m1 is lost
		synctest.Wait()
		close(gate2) // m2 is delivered
		wg.Wait()

		for name, err := range map[string]error{"A": errA, "B": errB} {
			de := isDeliveryError(err)
			if assert.NotNil(t, de, "Flush %s: %v", name, err) {
				assert.Equal(t, int64(1), de.Undelivered, "Flush %s", name)
			}
		}
		require.NoError(t, c.Close(), "the loss was reported by Flush already")
		assert.Len(t, tr.Requests(), 2, "one request per message")
	})
}

// TestFlushAfterFinishedFlushReportsNothingNew: a loss reported by a
// finished Flush is not reported again by a later Flush or by Shutdown,
// but a new loss is.
func TestFlushAfterFinishedFlushReportsNothingNew(t *testing.T) {
	t.Parallel()
	srv := analyticstest.NewServer(t)
	srv.SetDefault(analyticstest.Response{Status: http.StatusBadRequest, Body: `{"error":"refused"}`})
	c := newTestClient(t, srv.URL)
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
	t.Parallel()
	s := analyticstest.NewServer(t)
	s.Script(analyticstest.Response{Status: http.StatusInternalServerError}, analyticstest.Response{Status: http.StatusInternalServerError})
	c := newTestClient(t, s.URL, deterministic(analytics.WithRetryWait(time.Millisecond, 2*time.Millisecond))...)
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "First"}))
	require.NoError(t, c.Flush(bounded(t)))
	assert.Len(t, acceptedIDs(s), 1, "delivered when Flush returns")
	require.NoError(t, c.Flush(bounded(t)), "an empty Flush")
	assert.Len(t, s.Requests(), 3, "an empty Flush sends nothing")
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "Second"}))
	require.NoError(t, c.Flush(bounded(t)))
	assert.Len(t, acceptedIDs(s), 2)
}

// TestFlushAndShutdownBothReport: a Flush waiting on a batch that Shutdown
// abandons and Shutdown itself both report the loss; neither takes it from
// the other.
func TestFlushAndShutdownBothReport(t *testing.T) {
	t.Parallel()
	s := analyticstest.NewServer(t)
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
	s2 := analyticstest.NewServer(t)
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
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv, c := newFakeClient(t, analytics.WithBatchSize(50), analytics.WithFlushInterval(time.Second))
		srv.SetDefault(analyticstest.Response{Delay: 2 * time.Second})

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
						assert.NoError(t, err, "Enqueue")
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
