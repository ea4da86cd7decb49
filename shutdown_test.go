package analytics_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
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

// This file tests Shutdown and Close: they deliver what is queued under
// the retry policy, return by their deadline whatever the API or the
// caller's code does (reporting exactly what was not delivered), return
// the same when called again, and leave the client closed.

// deafTransport ignores its request's context: each round trip waits for
// release, then answers 200. It is the one round tripper of its own in the
// package's tests (besides benchmarks' and TestEndpoints'): the public
// fake honours a request's context, as every transport should; this one
// stands for a caller's transport that does not.
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
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader("{}")),
		ContentLength: 2, Request: r,
	}, nil
}

// TestShutdownDeadlineWithDeafTransport: a RoundTripper that ignores the
// request context cannot hold Shutdown past its deadline (plus 100 ms):
// the messages it holds are reported undelivered with the context's error,
// and its goroutines finish in the background once it answers.
func TestShutdownDeadlineWithDeafTransport(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var calls atomic.Int64
		_, c := newFakeClient(t, analytics.WithCallback(func(analytics.Result) {
			calls.Add(1)
			<-release
		}))
		for i := range 3 {
			require.NoError(t, c.Enqueue(track(fmt.Sprint(i))))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := c.Shutdown(ctx)
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
	t.Parallel()
	var c analytics.Client
	assert.ErrorIs(t, c.Enqueue(track("z")), analytics.ErrClosed)
	assert.ErrorIs(t, c.EnqueueContext(context.Background(), track("z")), analytics.ErrClosed)
	assert.ErrorIs(t, c.Flush(bounded(t)), analytics.ErrClosed)
	assert.NoError(t, c.Shutdown(bounded(t)))
	assert.NoError(t, c.Close())
	assert.Equal(t, analytics.Stats{}, c.Stats())
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v", &c, &c, &c), testKey)
}

// TestRetryDuringClose: the final flush in Close meets a 503, retries, and
// delivers; Close returns nil.
func TestRetryDuringClose(t *testing.T) {
	t.Parallel()
	s := analyticstest.NewServer(t)
	s.Script(analyticstest.Response{Status: http.StatusServiceUnavailable})
	c := newTestClient(t, s.URL, deterministic(analytics.WithRetryWait(time.Millisecond, 5*time.Millisecond))...)
	for i := range 10 {
		require.NoError(t, c.Enqueue(analytics.Identify{UserID: fmt.Sprint(i)}))
	}
	require.NoError(t, c.Close())
	reqs := s.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, 503, reqs[0].Status)
	assert.Equal(t, 200, reqs[1].Status)
	assert.Equal(t, reqs[0].Body, reqs[1].Body, "the retry sends the same bytes")
	assert.Len(t, acceptedIDs(s), 10)
	st := c.Stats()
	assert.Equal(t, int64(10), st.Delivered)
	assert.Equal(t, int64(1), st.Retries)
}

// TestShutdownOutage: during a permanent outage (503s, refused
// connections, or a server that never answers), Shutdown returns by its
// deadline with the exact number of undelivered messages, the callback
// hears of each, and a second Shutdown or Close returns the same; after
// it Enqueue, EnqueueContext and Flush return ErrClosed.
func TestShutdownOutage(t *testing.T) {
	t.Parallel()
	const n = 95 // 2 batches in flight, 1 waiting for a sender, the rest queued
	rows := []struct {
		name string
		// outage scripts the fake API.
		outage analyticstest.Response
		// delivered is how many messages get through before the outage.
		delivered int
	}{
		{"503", analyticstest.Response{Status: 503}, 0},
		{"connection refused", analyticstest.Response{Refuse: true}, 0},
		{"never answers", analyticstest.Response{Hang: true}, 0},
		{"fails after 3 batches", analyticstest.Response{Status: 503}, 30},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				res := &results{}
				fake, c := newFakeClient(t, analytics.WithBatchSize(10), analytics.WithMaxInFlight(2), analytics.WithMaxAttempts(100), analytics.WithRetryWait(100*time.Millisecond, time.Second), analytics.WithCallback(res.add))
				for range r.delivered / 10 {
					fake.Script(analyticstest.Response{})
				}
				fake.SetDefault(r.outage)
				for i := range n {
					require.NoError(t, c.Enqueue(track(fmt.Sprint(i))))
					if i < r.delivered {
						// Let the first batches through one by one.
						synctest.Wait()
					}
				}
				const deadline = 1500 * time.Millisecond
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				defer cancel()
				start := time.Now()
				err := c.Shutdown(ctx)
				assert.LessOrEqual(t, time.Since(start), deadline, "Shutdown returns by its deadline")

				de := isDeliveryError(err)
				require.NotNil(t, de, "%v", err)
				assert.Equal(t, int64(n-r.delivered), de.Undelivered, "the exact number not delivered")
				assert.ErrorIs(t, err, context.DeadlineExceeded)

				st := c.Stats()
				assert.Equal(t, int64(r.delivered), st.Delivered)
				assert.Equal(t, int64(n-r.delivered), st.FailedShutdown)
				assert.Equal(t, int64(0), st.Queued)
				assert.Equal(t, int64(0), st.InFlight)
				statsAddUp(t, st)

				got := res.get()
				require.Len(t, got, n, "one callback per message")
				failed := 0
				for _, res := range got {
					if res.Err != nil {
						failed++
						assert.ErrorIs(t, res.Err, context.DeadlineExceeded)
					}
				}
				assert.Equal(t, n-r.delivered, failed)

				assert.Equal(t, err, c.Shutdown(bounded(t)), "a second Shutdown returns the same")
				assert.Equal(t, err, c.Close(), "and so does Close")
				assert.ErrorIs(t, c.Enqueue(track("late")), analytics.ErrClosed)
				assert.ErrorIs(t, c.EnqueueContext(context.Background(), track("late")), analytics.ErrClosed)
				assert.ErrorIs(t, c.Flush(bounded(t)), analytics.ErrClosed)
				assert.Equal(t, st, c.Stats(), "nothing moves after Shutdown")
			})
		})
	}
}

// TestCloseTwice: Close delivers and returns nil; a second Close, a
// Shutdown after it, and concurrent Closes return the same; Enqueue after
// Close is ErrClosed and not counted.
func TestCloseTwice(t *testing.T) {
	t.Parallel()
	srv := analyticstest.NewServer(t)
	c := newTestClient(t, srv.URL, fastRetries()...)
	require.NoError(t, c.Enqueue(track("a")))
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = c.Close() }()
	}
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}
	assert.NoError(t, c.Close())
	assert.NoError(t, c.Shutdown(bounded(t)))
	assert.ErrorIs(t, c.Enqueue(track("b")), analytics.ErrClosed)
	st := c.Stats()
	assert.Equal(t, int64(1), st.Enqueued)
	assert.Equal(t, int64(1), st.Delivered)
	assert.Equal(t, map[string]int{"a": 1}, acceptedIDs(srv))
}
