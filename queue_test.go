package analytics_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// This file tests the queue in front of the senders: Enqueue refuses at
// once when it is full (by count or by bytes) and counts the drop, warning
// once per episode; EnqueueContext waits for room, or for its context, or
// for Shutdown.

// TestEnqueueContextBackpressure: the blocking variant waits for room and
// gives up when its context ends or the client closes.
func TestEnqueueContextBackpressure(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	s := analyticstest.NewServer(t)
	s.SetDefault(analyticstest.Response{Hold: release}) // stalled until release
	c := newTestClient(t, s.URL, deterministic(analytics.WithBatchSize(1), analytics.WithMaxInFlight(1), analytics.WithQueueCapacity(2))...)
	msg := analytics.Track{UserID: "u", Event: "E"}
	// One in flight, one waiting for a sender, two queued.
	waitFor(t, "one in flight, one waiting and two queued", func() bool {
		if err := c.Enqueue(msg); err != nil {
			require.ErrorIs(t, err, analytics.ErrQueueFull)
		}
		return c.Stats().InFlight >= 2 && c.Stats().Queued >= 2
	})
	require.ErrorIs(t, c.Enqueue(msg), analytics.ErrQueueFull)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.EnqueueContext(ctx, msg) }()
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	go func() { done <- c.EnqueueContext(context.Background(), msg) }()
	close(release) // the server answers; room appears
	require.NoError(t, <-done)
	require.NoError(t, c.Close())
	assert.Equal(t, int64(5), c.Stats().Delivered)
}

// stalled returns a client whose fake API holds every request until
// release is closed. Call it inside a synctest bubble.
func stalled(t *testing.T, release chan struct{}, opts ...analytics.Option) *analytics.Client {
	t.Helper()
	fake, c := newFakeClient(t, opts...)
	fake.SetDefault(analyticstest.Response{Hold: release})
	return c
}

// fill enqueues messages until the queue holds capacity messages, with
// one batch in flight on a stalled API and one more waiting for the only
// sender. It runs inside a synctest bubble.
func fill(t *testing.T, c *analytics.Client, capacity int) {
	t.Helper()
	for i := range capacity + 2 {
		require.NoError(t, c.Enqueue(track(fmt.Sprint("fill-", i))))
		synctest.Wait()
	}
	st := c.Stats()
	require.Equal(t, int64(capacity), st.Queued)
	require.Equal(t, int64(2), st.InFlight)
}

// TestQueueOverflow: with the queue full, Enqueue returns ErrQueueFull at
// once and counts the drop; EnqueueContext waits for room, or returns its
// context's error, or ErrClosed when Shutdown begins. Waiting is checked
// with synctest, not guessed.
func TestQueueOverflow(t *testing.T) {
	t.Parallel()
	const capacity = 3
	opts := []analytics.Option{analytics.WithBatchSize(1), analytics.WithMaxInFlight(1), analytics.WithQueueCapacity(capacity)}

	t.Run("Enqueue drops", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			var logs logCapture
			c := stalled(t, release, append(opts, analytics.WithLogger(logs.Logger()))...)
			fill(t, c, capacity)
			for range 5 {
				require.ErrorIs(t, c.Enqueue(track("over")), analytics.ErrQueueFull)
			}
			st := c.Stats()
			assert.Equal(t, int64(5), st.DroppedQueueFull)
			assert.Equal(t, int64(capacity+2), st.Enqueued, "drops are not enqueued")
			assert.Equal(t, 1, bytes.Count([]byte(logs.String()), []byte("queue full")), "the drop is logged once per episode:\n%s", logs.String())
			close(release)
			require.NoError(t, c.Close())
			assert.Equal(t, int64(capacity+2), c.Stats().Delivered)
		})
	})

	t.Run("Enqueue drops by bytes", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			c := stalled(t, release, analytics.WithBatchSize(1), analytics.WithMaxInFlight(1), analytics.WithQueueMaxBytes(analytics.MaxMessageBytes))
			big := func(id string) analytics.Track {
				m := track(id)
				m.Properties = analytics.Properties{"pad": strings.Repeat("x", 20_000)}
				return m
			}
			for i := range 3 { // one in flight, one waiting, one queued
				require.NoError(t, c.Enqueue(big(fmt.Sprint(i))))
				synctest.Wait()
			}
			require.ErrorIs(t, c.Enqueue(big("over")), analytics.ErrQueueFull, "20 KB more would pass WithQueueMaxBytes")
			require.NoError(t, c.Enqueue(track("small")), "a small one still fits")
			close(release)
			require.NoError(t, c.Close())
		})
	})

	t.Run("EnqueueContext waits for room", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			c := stalled(t, release, opts...)
			fill(t, c, capacity)
			done := make(chan error, 1)
			go func() { done <- c.EnqueueContext(context.Background(), track("waiter")) }()
			synctest.Wait()
			require.Empty(t, done, "EnqueueContext returned with the queue full")
			close(release) // the server answers, the queue drains
			synctest.Wait()
			require.NoError(t, <-done)
			require.NoError(t, c.Close())
			assert.Equal(t, int64(capacity+3), c.Stats().Delivered)
		})
	})

	t.Run("EnqueueContext deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			c := stalled(t, release, opts...)
			fill(t, c, capacity)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			start := time.Now()
			err := c.EnqueueContext(ctx, track("waiter"))
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Equal(t, 3*time.Second, time.Since(start), "waited exactly until the deadline")
			assert.Equal(t, int64(0), c.Stats().DroppedQueueFull, "a wait that ends is not a drop")
			close(release)
			require.NoError(t, c.Close())
			assert.Equal(t, int64(capacity+2), c.Stats().Delivered)
		})
	})

	t.Run("EnqueueContext ErrClosed on Shutdown", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			c := stalled(t, release, opts...)
			fill(t, c, capacity)
			const waiters = 4
			done := make(chan error, waiters)
			for range waiters {
				go func() { done <- c.EnqueueContext(context.Background(), track("waiter")) }()
			}
			synctest.Wait()
			require.Empty(t, done, "the waiters wait")
			shut := make(chan error, 1)
			go func() { shut <- c.Shutdown(bounded(t)) }()
			for range waiters {
				assert.ErrorIs(t, <-done, analytics.ErrClosed)
			}
			close(release)
			require.NoError(t, <-shut, "what was queued is delivered")
			assert.Equal(t, int64(capacity+2), c.Stats().Delivered)
		})
	})
}

// TestQueueFullWarnedOncePerEpisode: an overload logs one warning however
// many batches drain while it lasts; once the queue has drained, a new
// overload is warned about again.
func TestQueueFullWarnedOncePerEpisode(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		logs := &logCapture{}
		// Each value sent on tokens lets one held request be answered 200.
		tokens := make(chan struct{})
		fake, c := newFakeClient(t,
			analytics.WithQueueCapacity(40),
			analytics.WithBatchSize(5),
			analytics.WithMaxInFlight(1),
			analytics.WithLogger(logs.Logger()))
		fake.SetDefault(analyticstest.Response{Hold: tokens})
		fill := func() (refused int) {
			for i := 0; i < 100 && refused < 3; i++ {
				if errors.Is(c.Enqueue(track("q")), analytics.ErrQueueFull) {
					refused++
				}
			}
			synctest.Wait()
			return refused
		}
		warnings := func() int { return strings.Count(logs.String(), "queue full") }

		// One episode: overloaded while 30 batches drain one by one.
		require.Equal(t, 3, fill())
		for range 30 {
			tokens <- struct{}{}
			synctest.Wait()
			require.Equal(t, 3, fill())
		}
		assert.Equal(t, 1, warnings(), "logs:\n%s", logs.String())

		// Drain it, then overload again: a second episode.
		for c.Stats().Queued+c.Stats().InFlight > 0 {
			tokens <- struct{}{}
			synctest.Wait()
		}
		require.Equal(t, 3, fill())
		assert.Equal(t, 2, warnings(), "logs:\n%s", logs.String())

		close(tokens) // every request is answered from now on
		require.NoError(t, c.Close())
	})
}
