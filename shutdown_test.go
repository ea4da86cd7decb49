package analytics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// This file tests Shutdown's deadline and the client's closed states.

// deafTransport ignores its request's context: each round trip waits for
// release, then answers 200.
type deafTransport struct {
	release chan struct{}
	started atomic.Int64
}

func (d *deafTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	d.started.Add(1)
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	<-d.release
	return okResponse(r), nil
}

// TestShutdownDeadlineWithDeafTransport: a RoundTripper that ignores the
// request context cannot hold Shutdown past its deadline (plus 100 ms):
// the messages it holds are reported undelivered with the context's error,
// and its goroutines finish in the background once it answers.
func TestShutdownDeadlineWithDeafTransport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		deaf := &deafTransport{release: make(chan struct{})}
		c, err := analytics.New(testKey,
			analytics.WithHTTPClient(&http.Client{Transport: deaf}),
			analytics.WithBatchSize(5),
			analytics.WithFlushInterval(time.Hour),
			analytics.WithLogger(quietLogger()))
		require.NoError(t, err)
		for i := range 12 {
			require.NoError(t, c.Enqueue(track(fmt.Sprint(i))))
		}
		synctest.Wait()
		require.Equal(t, int64(2), deaf.started.Load(), "two full batches in flight")

		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err = c.Shutdown(ctx)
		elapsed := time.Since(start)
		assert.LessOrEqual(t, elapsed, 300*time.Millisecond)
		de := isDeliveryError(err)
		require.NotNil(t, de, "%v", err)
		assert.Equal(t, int64(12), de.Undelivered, "the 10 held by the transport and the 2 queued behind them")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, err, c.Shutdown(bounded(t)), "a second Shutdown returns the same result")
		assert.ErrorIs(t, c.Enqueue(track("late")), analytics.ErrClosed)

		close(deaf.release) // the goroutines finish in the background
		synctest.Wait()
		st := c.Stats()
		assert.Zero(t, st.InFlight)
		assert.Equal(t, int64(12), st.Delivered+st.Failed)
	})
}

// TestShutdownDeadlineWithSlowCallback: a WithCallback function that does
// not return cannot hold Shutdown past its deadline either.
func TestShutdownDeadlineWithSlowCallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var calls atomic.Int64
		c, err := analytics.New(testKey,
			analytics.WithHTTPClient(&http.Client{Transport: &okTransport{}}),
			analytics.WithFlushInterval(time.Hour),
			analytics.WithLogger(quietLogger()),
			analytics.WithCallback(func(analytics.Result) {
				calls.Add(1)
				<-release
			}))
		require.NoError(t, err)
		for i := range 3 {
			require.NoError(t, c.Enqueue(track(fmt.Sprint(i))))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err = c.Shutdown(ctx)
		assert.LessOrEqual(t, time.Since(start), 300*time.Millisecond)
		de := isDeliveryError(err)
		require.NotNil(t, de, "%v", err)
		assert.Equal(t, int64(3), de.Undelivered, "their outcome was not known by the deadline")
		close(release)
		synctest.Wait()
		assert.Equal(t, int64(3), calls.Load())
	})
}

// TestZeroClientIsClosed: the zero Client behaves as a closed one: no
// panic, no wait.
func TestZeroClientIsClosed(t *testing.T) {
	var c analytics.Client
	assert.ErrorIs(t, c.Enqueue(track("z")), analytics.ErrClosed)
	assert.ErrorIs(t, c.EnqueueContext(context.Background(), track("z")), analytics.ErrClosed)
	assert.ErrorIs(t, c.Flush(bounded(t)), analytics.ErrClosed)
	assert.NoError(t, c.Shutdown(bounded(t)))
	assert.NoError(t, c.Close())
	assert.Equal(t, analytics.Stats{}, c.Stats())
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v", &c, &c, &c), testKey)
}

// TestQueueFullWarnedOncePerEpisode: an overload logs one warning however
// many batches drain while it lasts; once the queue has drained, a new
// overload is warned about again.
func TestQueueFullWarnedOncePerEpisode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := &logCapture{}
		tokens := make(chan struct{})
		c, err := analytics.New(testKey,
			analytics.WithHTTPClient(&http.Client{Transport: tokenTransport(tokens)}),
			analytics.WithQueueCapacity(40),
			analytics.WithBatchSize(5),
			analytics.WithMaxInFlight(1),
			analytics.WithFlushInterval(time.Hour),
			analytics.WithLogger(logs.Logger()))
		require.NoError(t, err)
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

// tokenTransport answers 200 each time it takes a token (at once once the
// channel is closed), or fails when the request's context ends.
type tokenTransport chan struct{}

func (tt tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	select {
	case <-tt:
		return okResponse(r), nil
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
}
