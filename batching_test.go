package analytics_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// This file tests how messages are cut into batches: by count, by bytes
// (never over the API's limits), by the flush tick, and at once when the
// queue fills before a batch does.

// TestBatchLimits sends 600 messages of random sizes up to 31 KB (3,000 in
// the long mode): no request body is over MaxBatchBytes or holds more than
// the batch size, every message arrives exactly once, and the batches were
// cut by bytes.
func TestBatchLimits(t *testing.T) {
	t.Parallel()
	s := analyticstest.NewServer(t)
	const batchSize = 120
	c := newTestClient(t, s.URL, deterministic(analytics.WithBatchSize(batchSize), analytics.WithQueueCapacity(5000), analytics.WithQueueMaxBytes(200<<20))...)
	rng := rand.New(rand.NewPCG(1, 2))
	n := 600
	if longTests() {
		n = 3000
	}
	for i := range n {
		pad := strings.Repeat("x", rng.IntN(31_000))
		require.NoError(t, c.Enqueue(analytics.Track{
			UserID: "u", Event: "Sized", MessageID: fmt.Sprintf("m%04d", i),
			Properties: analytics.Properties{"pad": pad},
		}))
	}
	// 9 MB through the validating fake (46 MB in the long mode): under
	// -race on a busy machine that can outlast Close's 10 s, so wait with
	// the suite's patience.
	require.NoError(t, c.Shutdown(bounded(t)))

	seen := map[string]int{}
	for _, r := range s.Requests() {
		assert.LessOrEqual(t, len(r.Body), analytics.MaxBatchBytes, "request body over the API limit")
		assert.LessOrEqual(t, len(r.Messages), batchSize)
		for _, m := range r.Messages {
			var v struct{ MessageID string }
			require.NoError(t, json.Unmarshal(m.Raw, &v))
			seen[v.MessageID]++
		}
	}
	require.Len(t, seen, n, "every message delivered")
	for id, k := range seen {
		require.Equal(t, 1, k, "message %s delivered %d times", id, k)
	}
	st := c.Stats()
	assert.Equal(t, int64(n), st.Enqueued)
	assert.Equal(t, int64(n), st.Delivered)
	assert.Greater(t, st.Batches, int64(n*15_500/analytics.MaxBatchBytes), "batches were cut by bytes")
}

// TestFlushInterval: a lone message is sent when the interval ticks.
func TestFlushInterval(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr, c := newFakeClient(t, analytics.WithFlushInterval(3*time.Second))
		require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "Tick"}))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		assert.Equal(t, int64(0), c.Stats().Requests, "not sent before the interval")
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		assert.Positive(t, c.Stats().Batches, "sent at the tick")
		assert.Equal(t, int64(1), c.Stats().Delivered)
		assert.Len(t, tr.Messages(), 1)
		require.NoError(t, c.Close())
	})
}

// TestQueueSmallerThanBatch: a queue that fills before a batch does is sent
// at once, not at the next flush tick.
func TestQueueSmallerThanBatch(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, c := newFakeClient(t, analytics.WithQueueCapacity(10), analytics.WithBatchSize(100))
		start := time.Now()
		accepted := 0
		for refused := 0; accepted < 25; {
			err := c.Enqueue(analytics.Track{UserID: "u", Event: "E"})
			if err == nil {
				accepted++
				continue
			}
			require.ErrorIs(t, err, analytics.ErrQueueFull)
			// Each refusal finds the queue full and is followed by a cut:
			// a client refusing an empty queue would loop here for good.
			refused++
			require.LessOrEqual(t, refused, 25, "Enqueue keeps refusing after the queue was cut")
			// The refused push woke the batcher; let it cut and send.
			synctest.Wait()
			require.Zero(t, c.Stats().Queued, "the queue was cut")
		}
		require.NoError(t, c.Flush(bounded(t)))
		assert.Less(t, time.Since(start), time.Hour, "sent long before the hourly tick")
		assert.Equal(t, int64(25), c.Stats().Delivered)
		require.NoError(t, c.Close())
	})
}

// TestBatchCounts: N small messages make ceil(N/batchSize) requests, all
// full but one; an empty Flush sends nothing.
func TestBatchCounts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, size int }{{0, 10}, {1, 10}, {10, 10}, {11, 10}, {99, 10}, {250, 250}, {1000, 7}, {2500, 250}} {
		t.Run(fmt.Sprintf("%d by %d", tc.n, tc.size), func(t *testing.T) {
			srv := analyticstest.NewServer(t)
			c := newTestClient(t, srv.URL, fastRetries(analytics.WithBatchSize(tc.size))...)
			require.NoError(t, c.Flush(bounded(t)), "an empty Flush")
			assert.Empty(t, srv.Requests(), "an empty Flush sends nothing")
			for i := range tc.n {
				require.NoError(t, c.Enqueue(track(fmt.Sprint(i))))
			}
			require.NoError(t, c.Flush(bounded(t)))
			require.NoError(t, c.Flush(bounded(t)), "a second Flush")
			want := (tc.n + tc.size - 1) / tc.size
			assert.Len(t, srv.Requests(), want)
			assert.Equal(t, int64(want), c.Stats().Batches)
			assert.Len(t, acceptedIDs(srv), tc.n)
			require.NoError(t, c.Close())
			assert.Len(t, srv.Requests(), want, "Close sends nothing more")
		})
	}
}
