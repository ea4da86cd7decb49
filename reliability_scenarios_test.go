package analytics_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func track(id string) analytics.Track {
	return analytics.Track{UserID: "u-1", Event: "Reliability Checked", MessageID: id, Properties: analytics.Properties{"n": id}}
}

// TestRetriedFailures: each failure the client retries (network errors,
// a reset mid-request, a per-attempt timeout, 408, 429 and 5xx) is
// retried: one failure then success costs exactly two requests and
// delivers; a persistent failure costs exactly WithMaxAttempts requests
// and is reported by Flush, Stats and the callback.
func TestRetriedFailures(t *testing.T) {
	type row struct {
		name string
		// start returns the endpoint and the client options of the
		// scenario; failFirst makes only the first attempt fail.
		start func(t *testing.T, failFirst bool) (string, []analytics.Option)
		// status is the status of the failure (0 for a network error).
		status int
		// exact is false when a retry can itself be slow enough to fail
		// (the timeout row), so the recovering run may take 3 attempts.
		exact bool
	}
	statusRow := func(status int) row {
		return row{name: fmt.Sprint(status), status: status, exact: true, start: func(t *testing.T, failFirst bool) (string, []analytics.Option) {
			srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey))
			resp := analyticstest.Response{Status: status, Body: `{"error":"injected"}`}
			if failFirst {
				srv.Script(resp)
			} else {
				srv.SetDefault(resp)
			}
			return srv.URL, nil
		}}
	}
	var rows []row
	for _, s := range []int{408, 429, 500, 502, 503, 504} {
		rows = append(rows, statusRow(s))
	}
	rows = append(rows,
		row{name: "connection refused", exact: true, start: func(t *testing.T, failFirst bool) (string, []analytics.Option) {
			srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey))
			tr := &http.Transport{}
			t.Cleanup(tr.CloseIdleConnections)
			var n int64 = 1 << 30
			if failFirst {
				n = 1
			}
			return srv.URL, []analytics.Option{analytics.WithHTTPClient(&http.Client{Transport: &redirectFirst{next: tr, addr: closedPort(t), n: n}})}
		}},
		row{name: "connection closed", exact: true, start: func(t *testing.T, failFirst bool) (string, []analytics.Option) {
			srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey))
			if failFirst {
				srv.Script(analyticstest.Response{CloseConnection: true})
			} else {
				srv.SetDefault(analyticstest.Response{CloseConnection: true})
			}
			return srv.URL, nil
		}},
		row{name: "connection reset mid-request", exact: true, start: func(t *testing.T, failFirst bool) (string, []analytics.Option) {
			srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey))
			if failFirst {
				srv.Script(analyticstest.Response{Reset: true})
			} else {
				srv.SetDefault(analyticstest.Response{Reset: true})
			}
			return srv.URL, nil
		}},
		row{name: "per-attempt timeout", exact: false, start: func(t *testing.T, failFirst bool) (string, []analytics.Option) {
			srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey))
			slow := analyticstest.Response{Delay: time.Minute}
			if failFirst {
				srv.Script(slow)
			} else {
				srv.SetDefault(slow)
			}
			return srv.URL, []analytics.Option{analytics.WithRequestTimeout(150 * time.Millisecond)}
		}},
	)

	for _, r := range rows {
		t.Run(r.name+"/recovers", func(t *testing.T) {
			endpoint, opts := r.start(t, true)
			res := &results{}
			c := newTestClient(t, endpoint, fastRetries(append(opts, analytics.WithCallback(res.add))...)...)
			for i := range 3 {
				require.NoError(t, c.Enqueue(track(fmt.Sprintf("m%d", i))))
			}
			require.NoError(t, c.Flush(bounded(t)), "delivered after a retry")
			st := c.Stats()
			if r.exact {
				assert.Equal(t, int64(2), st.Requests, "one failure, one retry")
				assert.Equal(t, int64(1), st.Retries)
			} else {
				assert.GreaterOrEqual(t, st.Requests, int64(2))
			}
			assert.Equal(t, int64(3), st.Delivered)
			assert.Equal(t, int64(0), st.Failed)
			for _, got := range res.get() {
				assert.NoError(t, got.Err, got.MessageID)
			}
			assert.Len(t, res.get(), 3)
			statsAddUp(t, st)
		})
		t.Run(r.name+"/persistent", func(t *testing.T) {
			endpoint, opts := r.start(t, false)
			res := &results{}
			const attempts = 3
			c := newTestClient(t, endpoint, fastRetries(append(opts, analytics.WithCallback(res.add), analytics.WithMaxAttempts(attempts))...)...)
			for i := range 2 {
				require.NoError(t, c.Enqueue(track(fmt.Sprintf("m%d", i))))
			}
			err := c.Flush(bounded(t))
			de := isDeliveryError(err)
			require.NotNil(t, de, "Flush reports the loss: %v", err)
			assert.Equal(t, int64(2), de.Undelivered)
			var apiErr *analytics.APIError
			if r.status != 0 {
				require.ErrorAs(t, err, &apiErr)
				assert.Equal(t, r.status, apiErr.StatusCode)
				assert.True(t, apiErr.Retryable)
				assert.Contains(t, apiErr.Body, "injected")
			} else {
				assert.False(t, errors.As(err, &apiErr), "a network error is not an APIError: %v", err)
			}
			st := c.Stats()
			assert.Equal(t, int64(attempts), st.Requests, "exactly WithMaxAttempts requests")
			assert.Equal(t, int64(attempts-1), st.Retries)
			assert.Equal(t, int64(2), st.FailedRetries)
			assert.Equal(t, int64(0), st.FailedStatus)
			got := res.get()
			require.Len(t, got, 2)
			for _, res := range got {
				require.Error(t, res.Err)
				if r.status != 0 {
					require.ErrorAs(t, res.Err, &apiErr)
					assert.Equal(t, r.status, apiErr.StatusCode)
				}
			}
			statsAddUp(t, st)
		})
	}
}

// TestConnectionRefusedError: the error of a refused connection says so.
func TestConnectionRefusedError(t *testing.T) {
	c := newTestClient(t, "http://"+closedPort(t), fastRetries(analytics.WithMaxAttempts(2))...)
	require.NoError(t, c.Enqueue(track("refused")))
	err := c.Flush(bounded(t))
	require.NotNil(t, isDeliveryError(err))
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.Equal(t, int64(2), c.Stats().Requests)
}

// TestPermanentStatuses: a status the client does not retry costs exactly
// one request; the failure is reported with the status by Flush (a
// *DeliveryError wrapping an *APIError), Stats.FailedStatus and the
// callback.
func TestPermanentStatuses(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 413, 422, 501} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey))
			srv.SetDefault(analyticstest.Response{Status: status, Body: `{"error":"refused"}`})
			res := &results{}
			c := newTestClient(t, srv.URL, fastRetries(analytics.WithCallback(res.add), analytics.WithMaxAttempts(10))...)
			for i := range 4 {
				require.NoError(t, c.Enqueue(track(fmt.Sprintf("p%d", i))))
			}
			err := c.Flush(bounded(t))
			de := isDeliveryError(err)
			require.NotNil(t, de, "%v", err)
			assert.Equal(t, int64(4), de.Undelivered)
			var apiErr *analytics.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, status, apiErr.StatusCode)
			assert.False(t, apiErr.Retryable)
			assert.Contains(t, err.Error(), fmt.Sprint(status))

			// A refusal of the content (400, 413, 422) is bisected to
			// isolate invalid messages: a batch of 4 that every request
			// fails costs the whole tree, 2·4-1 requests. The others
			// are sent exactly once.
			wantRequests := 1
			if status == 400 || status == 413 || status == 422 {
				wantRequests = 2*4 - 1
			}
			assert.Len(t, srv.Requests(), wantRequests)
			st := c.Stats()
			assert.Equal(t, int64(wantRequests), st.Requests)
			assert.Equal(t, int64(wantRequests-1), st.BisectedRequests)
			assert.Equal(t, int64(0), st.Retries)
			assert.Equal(t, int64(4), st.FailedStatus)
			assert.Equal(t, int64(4), st.Failed)
			got := res.get()
			require.Len(t, got, 4)
			for i, r := range got {
				assert.Equal(t, fmt.Sprintf("p%d", i), r.MessageID)
				require.ErrorAs(t, r.Err, &apiErr)
				assert.Equal(t, status, apiErr.StatusCode)
			}
			statsAddUp(t, st)
			require.NoError(t, c.Close(), "the loss was reported once, by Flush")
		})
	}
}

// TestMaxAttemptsExact: WithMaxAttempts(n) against a server that always
// answers 503 makes exactly n requests.
func TestMaxAttemptsExact(t *testing.T) {
	for _, n := range []int{1, 2, 5, 12} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			srv := analyticstest.NewServer(t)
			srv.SetDefault(analyticstest.Response{Status: 503})
			c := newTestClient(t, srv.URL, fastRetries(analytics.WithMaxAttempts(n))...)
			require.NoError(t, c.Enqueue(track("x")))
			require.NotNil(t, isDeliveryError(c.Flush(bounded(t))))
			assert.Len(t, srv.Requests(), n)
			assert.Equal(t, int64(n), c.Stats().Requests)
		})
	}
}

// TestRetryAfter: Retry-After is honoured in seconds and as an HTTP date,
// capped by WithMaxRetryAfter, and ignored when malformed; on synctest's
// clock, so the waits are measured, not slept.
func TestRetryAfter(t *testing.T) {
	rows := []struct {
		name string
		// header builds the Retry-After value from the bubble's "now".
		header   func(now time.Time) string
		maxAfter time.Duration
		// The wait between the two attempts must be in [min, max].
		min, max time.Duration
	}{
		{"seconds", func(time.Time) string { return "3" }, time.Minute, 3 * time.Second, 3 * time.Second},
		{"http date", func(now time.Time) string { return now.Add(3 * time.Second).UTC().Format(http.TimeFormat) }, time.Minute, 2 * time.Second, 3 * time.Second},
		{"seconds capped", func(time.Time) string { return "3600" }, 5 * time.Second, 5 * time.Second, 5 * time.Second},
		{"http date capped", func(now time.Time) string { return now.Add(time.Hour).UTC().Format(http.TimeFormat) }, 5 * time.Second, 5 * time.Second, 5 * time.Second},
		{"http date in the past", func(now time.Time) string { return now.Add(-time.Hour).UTC().Format(http.TimeFormat) }, time.Minute, 0, 0},
		{"malformed: backoff", func(time.Time) string { return "soon" }, time.Minute, 500 * time.Millisecond, time.Second},
	}
	for _, r := range rows {
		for _, status := range []int{429, 503} {
			t.Run(fmt.Sprintf("%s/%d", r.name, status), func(t *testing.T) {
				srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey))
				synctest.Test(t, func(t *testing.T) {
					srv.Script(analyticstest.Response{Status: status, RetryAfter: r.header(time.Now())})
					tr := noKeepAlive()
					defer tr.CloseIdleConnections()
					clock := &clockTransport{next: tr}
					c := newTestClient(t, srv.URL, through(clock, analytics.WithRetryWait(time.Second, 10*time.Second), analytics.WithMaxRetryAfter(r.maxAfter))...)
					require.NoError(t, c.Enqueue(track("ra")))
					require.NoError(t, c.Flush(bounded(t)))
					require.NoError(t, c.Close())
					at := clock.times()
					require.Len(t, at, 2)
					wait := at[1].Sub(at[0])
					assert.GreaterOrEqual(t, wait, r.min)
					assert.LessOrEqual(t, wait, r.max)
				})
			})
		}
	}
}

// TestNoHotLoop: no status makes the client spin. A persistent 403 costs
// one request; a persistent bodiless 429, with or without "Retry-After:
// 0", costs exactly WithMaxAttempts requests, and without Retry-After the
// waits between them grow (on synctest's clock).
func TestNoHotLoop(t *testing.T) {
	rows := []struct {
		name     string
		f        analyticstest.Response
		attempts int
		want     int
		// minTotal is the least time the attempts may take: the
		// backoff's lower bounds, WaitMin/2·(1+2+4+…), capped at WaitMax.
		minTotal time.Duration
	}{
		{"403", analyticstest.Response{Status: 403}, 6, 1, 0},
		{"bodiless 429", analyticstest.Response{Status: 429}, 6, 6, (500 + 1000 + 2000 + 2500 + 2500) * time.Millisecond},
		{"bodiless 503", analyticstest.Response{Status: 503}, 6, 6, (500 + 1000 + 2000 + 2500 + 2500) * time.Millisecond},
		{"429 Retry-After 0", analyticstest.Response{Status: 429, RetryAfter: "0"}, 6, 6, 0},
		{"429 Retry-After garbage", analyticstest.Response{Status: 429, RetryAfter: "-1"}, 6, 6, (500 + 1000 + 2000 + 2500 + 2500) * time.Millisecond},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			srv := analyticstest.NewServer(t)
			srv.SetDefault(r.f)
			synctest.Test(t, func(t *testing.T) {
				tr := noKeepAlive()
				defer tr.CloseIdleConnections()
				c := newTestClient(t, srv.URL, through(tr, analytics.WithMaxAttempts(r.attempts), analytics.WithRetryWait(time.Second, 5*time.Second))...)
				require.NoError(t, c.Enqueue(track("hot")))
				start := time.Now()
				require.NotNil(t, isDeliveryError(c.Flush(bounded(t))))
				took := time.Since(start)
				require.NoError(t, c.Close())
				assert.Equal(t, int64(r.want), c.Stats().Requests)
				assert.GreaterOrEqual(t, took, r.minTotal, "the waits between attempts")
			})
			assert.Len(t, srv.Requests(), r.want)
		})
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestRetrySendsSameBytes: every attempt of a batch carries the same
// body, byte for byte: the same message ids, timestamps and sentAt,
// though the ids are random and the clock is real.
func TestRetrySendsSameBytes(t *testing.T) {
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey))
	srv.Script(
		analyticstest.Response{Status: 500},
		analyticstest.Response{Status: 429, RetryAfter: "0"},
		analyticstest.Response{CloseConnection: true},
		analyticstest.Response{Status: 503, RetryAfter: "1"},
	)
	c, err := analytics.New(testKey, analytics.WithEndpoint(srv.URL), analytics.WithLogger(quietLogger()),
		analytics.WithRetryWait(3*time.Millisecond, 5*time.Millisecond), analytics.WithMaxRetryAfter(5*time.Millisecond))
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Enqueue(analytics.Identify{UserID: "a", Traits: analytics.Traits{"plan": "pro"}}))
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "a", Event: "Retried"}))
	require.NoError(t, c.Enqueue(analytics.Page{AnonymousID: "b", Name: "Home"}))
	require.NoError(t, c.Flush(bounded(t)))

	reqs := srv.Requests()
	require.Len(t, reqs, 5)
	// Byte for byte, but for sentAt, the time of each attempt (see
	// TestSentAtIsTheTimeOfEachAttempt).
	sentAt := regexp.MustCompile(`,"sentAt":"[^"]*"}$`)
	first := sentAt.ReplaceAllString(string(reqs[0].Body), "")
	for i, r := range reqs[1:] {
		assert.Equal(t, first, sentAt.ReplaceAllString(string(r.Body), ""), "attempt %d differs from the first", i+2)
	}
	msgs := srv.Messages()
	require.Len(t, msgs, 3)
	for _, m := range msgs {
		assert.Regexp(t, uuidV4, m.MessageID)
		assert.False(t, m.Timestamp.IsZero())
	}
	assert.Empty(t, srv.Violations())
}

// TestBatchCounts: N small messages make ceil(N/batchSize) requests, all
// full but one; an empty Flush sends nothing.
func TestBatchCounts(t *testing.T) {
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

// TestShutdownOutage: during a permanent outage (503s, refused
// connections, or a server that never answers), Shutdown returns by its
// deadline with the exact number of undelivered messages, the callback
// hears of each, and a second Shutdown or Close returns the same; after
// it Enqueue, EnqueueContext and Flush return ErrClosed.
func TestShutdownOutage(t *testing.T) {
	const n = 95 // 2 batches in flight, 1 waiting for a sender, the rest queued
	hanging := func() (http.RoundTripper, func()) { return newHangingTransport(), func() {} }
	loopback := func() (http.RoundTripper, func()) { tr := noKeepAlive(); return tr, tr.CloseIdleConnections }
	rows := []struct {
		name string
		// server starts the API outside the bubble and returns its base
		// URL; rt makes the transport inside it.
		server func(t *testing.T) string
		rt     func() (http.RoundTripper, func())
		// delivered is how many messages get through before the outage.
		delivered int
	}{
		{"503", func(t *testing.T) string {
			srv := analyticstest.NewServer(t)
			srv.SetDefault(analyticstest.Response{Status: 503})
			return srv.URL
		}, loopback, 0},
		{"connection refused", func(t *testing.T) string { return "http://" + closedPort(t) }, loopback, 0},
		{"never answers", func(t *testing.T) string { return "http://127.0.0.1:1" }, hanging, 0},
		{"fails after 3 batches", func(t *testing.T) string {
			srv := analyticstest.NewServer(t)
			srv.Script(analyticstest.Response{}, analyticstest.Response{}, analyticstest.Response{})
			srv.SetDefault(analyticstest.Response{Status: 503})
			return srv.URL
		}, loopback, 30},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			endpoint := r.server(t)
			synctest.Test(t, func(t *testing.T) {
				rt, cleanup := r.rt()
				defer cleanup()
				res := &results{}
				c := newTestClient(t, endpoint, through(rt, analytics.WithBatchSize(10), analytics.WithMaxInFlight(2), analytics.WithMaxAttempts(100), analytics.WithRetryWait(100*time.Millisecond, time.Second), analytics.WithCallback(res.add))...)
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

// fill enqueues messages until the queue holds capacity messages, with
// one batch in flight on a transport that never answers and one more
// waiting for the only sender. It runs inside a synctest bubble.
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
	const capacity = 3
	opts := []analytics.Option{analytics.WithBatchSize(1), analytics.WithMaxInFlight(1), analytics.WithQueueCapacity(capacity)}

	t.Run("Enqueue drops", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHangingTransport()
			var logs logCapture
			c := newTestClient(t, "http://127.0.0.1:1", through(h, append(opts, analytics.WithLogger(logs.Logger()))...)...)
			fill(t, c, capacity)
			for range 5 {
				require.ErrorIs(t, c.Enqueue(track("over")), analytics.ErrQueueFull)
			}
			st := c.Stats()
			assert.Equal(t, int64(5), st.DroppedQueueFull)
			assert.Equal(t, int64(capacity+2), st.Enqueued, "drops are not enqueued")
			assert.Equal(t, 1, bytes.Count([]byte(logs.String()), []byte("queue full")), "the drop is logged once per episode:\n%s", logs.String())
			close(h.release)
			require.NoError(t, c.Close())
			assert.Equal(t, int64(capacity+2), c.Stats().Delivered)
		})
	})

	t.Run("Enqueue drops by bytes", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHangingTransport()
			c := newTestClient(t, "http://127.0.0.1:1", through(h, analytics.WithBatchSize(1), analytics.WithMaxInFlight(1), analytics.WithQueueMaxBytes(analytics.MaxMessageBytes))...)
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
			close(h.release)
			require.NoError(t, c.Close())
		})
	})

	t.Run("EnqueueContext waits for room", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHangingTransport()
			c := newTestClient(t, "http://127.0.0.1:1", through(h, opts...)...)
			fill(t, c, capacity)
			done := make(chan error, 1)
			go func() { done <- c.EnqueueContext(context.Background(), track("waiter")) }()
			synctest.Wait()
			select {
			case err := <-done:
				t.Fatalf("EnqueueContext returned %v with the queue full", err)
			default:
			}
			close(h.release) // the server answers, the queue drains
			synctest.Wait()
			require.NoError(t, <-done)
			require.NoError(t, c.Close())
			assert.Equal(t, int64(capacity+3), c.Stats().Delivered)
		})
	})

	t.Run("EnqueueContext deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHangingTransport()
			c := newTestClient(t, "http://127.0.0.1:1", through(h, opts...)...)
			fill(t, c, capacity)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			start := time.Now()
			err := c.EnqueueContext(ctx, track("waiter"))
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Equal(t, 3*time.Second, time.Since(start), "waited exactly until the deadline")
			assert.Equal(t, int64(0), c.Stats().DroppedQueueFull, "a wait that ends is not a drop")
			close(h.release)
			require.NoError(t, c.Close())
			assert.Equal(t, int64(capacity+2), c.Stats().Delivered)
		})
	})

	t.Run("EnqueueContext ErrClosed on Shutdown", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHangingTransport()
			c := newTestClient(t, "http://127.0.0.1:1", through(h, opts...)...)
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
			close(h.release)
			require.NoError(t, <-shut, "what was queued is delivered")
			assert.Equal(t, int64(capacity+2), c.Stats().Delivered)
		})
	})
}

// TestGoroutinesBounded: a burst of 20,000 messages against a server that
// never answers adds the fixed pool of WithMaxInFlight senders, the
// batcher, and for each hanging request the goroutines net/http holds for
// it: nothing per message or per batch. Through a round tripper that is
// one (net/http's watcher of the per-attempt timeout); over a loopback
// connection six (that watcher, the transport's reader, writer and cancel
// watcher, the server's handler and background reader).
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
		{"round tripper", 1, 2, func(t *testing.T) (string, http.RoundTripper, func()) {
			h := newHangingTransport()
			return "http://127.0.0.1:1", h, func() { close(h.release) }
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
							t.Errorf("Enqueue: %v", err)
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

// TestNetErrorIsTyped: a network failure is reported with its *net.OpError,
// so callers can tell it from an API answer.
func TestNetErrorIsTyped(t *testing.T) {
	res := &results{}
	c := newTestClient(t, "http://"+closedPort(t), fastRetries(analytics.WithCallback(res.add), analytics.WithMaxAttempts(1))...)
	require.NoError(t, c.Enqueue(track("x")))
	err := c.Flush(bounded(t))
	var op *net.OpError
	assert.ErrorAs(t, err, &op)
	require.Len(t, res.get(), 1)
	assert.ErrorAs(t, res.get()[0].Err, &op)
	assert.Equal(t, int64(1), c.Stats().FailedRetries)
}

// TestRedirectNotFollowed: the API never redirects, so a redirect means a
// wrong endpoint. Followed, a 301, 302 or 303 would turn the POST into a
// GET without the batch, which a web page may answer 200: the messages
// would count as delivered and be lost. The client reports the redirect
// as a failed request instead, once, with its status, whatever the kind,
// and whether the HTTP client is its own or the caller's.
func TestRedirectNotFollowed(t *testing.T) {
	for _, code := range []int{301, 302, 303, 307, 308} {
		for _, own := range []bool{true, false} {
			t.Run(fmt.Sprintf("%d/own client %v", code, own), func(t *testing.T) {
				var batches, other atomic.Int64
				mux := http.NewServeMux()
				mux.HandleFunc("/v1/batch", func(w http.ResponseWriter, r *http.Request) {
					batches.Add(1)
					http.Redirect(w, r, "/elsewhere", code)
				})
				mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
					other.Add(1)
					_, _ = io.WriteString(w, "<html>a page that answers anything with 200</html>")
				})
				srv := httptest.NewServer(mux)
				defer srv.Close()
				var opts []analytics.Option
				if !own {
					tr := &http.Transport{}
					defer tr.CloseIdleConnections()
					opts = append(opts, analytics.WithHTTPClient(&http.Client{Transport: tr}))
				}
				res := &results{}
				c := newTestClient(t, srv.URL, fastRetries(append(opts, analytics.WithCallback(res.add))...)...)
				require.NoError(t, c.Enqueue(track("r")))
				err := c.Flush(bounded(t))
				var apiErr *analytics.APIError
				require.ErrorAs(t, err, &apiErr, "the redirect is reported, not taken for delivery")
				assert.Equal(t, code, apiErr.StatusCode)
				assert.Equal(t, int64(1), batches.Load(), "one request")
				assert.Zero(t, other.Load(), "the redirect is not followed")
				st := c.Stats()
				assert.Zero(t, st.Delivered)
				assert.Equal(t, int64(1), st.FailedStatus)
				require.Len(t, res.get(), 1)
				assert.Error(t, res.get()[0].Err)
			})
		}
	}
}

// TestMaxRetryTime: a batch is retried for at most WithMaxRetryTime, waits
// included, however many attempts remain and however long a Retry-After
// asks for; then its messages are reported lost (on synctest's clock).
func TestMaxRetryTime(t *testing.T) {
	for _, r := range []struct {
		name string
		f    analyticstest.Response
	}{
		{"503 with backoff", analyticstest.Response{Status: 503}},
		{"429 asking for an hour", analyticstest.Response{Status: 429, RetryAfter: "3600"}},
	} {
		t.Run(r.name, func(t *testing.T) {
			srv := analyticstest.NewServer(t)
			srv.SetDefault(r.f)
			synctest.Test(t, func(t *testing.T) {
				tr := noKeepAlive()
				defer tr.CloseIdleConnections()
				c := newTestClient(t, srv.URL, through(tr, analytics.WithMaxAttempts(100), analytics.WithRetryWait(time.Second, 2*time.Second), analytics.WithMaxRetryAfter(time.Hour), analytics.WithMaxRetryTime(10*time.Second))...)
				require.NoError(t, c.Enqueue(track("t")))
				start := time.Now()
				err := c.Flush(bounded(t))
				took := time.Since(start)
				require.NoError(t, c.Close())
				de := isDeliveryError(err)
				require.NotNil(t, de, "%v", err)
				assert.Equal(t, int64(1), de.Undelivered)
				if r.f.RetryAfter != "" {
					// A wait that would outlast the retry time is not
					// begun: given up at once, with the API's answer.
					assert.Equal(t, time.Duration(0), took, "given up without waiting for nothing")
					var apiErr *analytics.APIError
					require.ErrorAs(t, err, &apiErr)
					assert.Equal(t, 429, apiErr.StatusCode)
				} else {
					assert.Equal(t, 10*time.Second, took, "given up exactly when the retry time ran out")
				}
				st := c.Stats()
				assert.Equal(t, int64(1), st.FailedRetries)
				assert.Less(t, st.Requests, int64(100))
			})
		})
	}
}
