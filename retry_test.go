package analytics_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
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

// This file tests what the client does with each answer of the API: what
// is retried (network errors, timeouts, 408, 429, 5xx but 501) and for how
// long (WithMaxAttempts, WithMaxRetryTime, Retry-After, backoff without a
// hot loop), what is not (other statuses, redirects), that a retry sends
// the same bytes, and how each failure is reported.

// TestRetriedFailures: each failure the client retries (network errors,
// a reset mid-request, a per-attempt timeout, 408, 429 and 5xx) is
// retried: one failure then success costs exactly two requests and
// delivers; a persistent failure costs exactly WithMaxAttempts requests
// and is reported by Flush, Stats and the callback.
func TestRetriedFailures(t *testing.T) {
	t.Parallel()
	type row struct {
		name string
		// fault is the failure the fake API answers with.
		fault analyticstest.Response
		// status is the status of the failure (0 for a network error).
		status int
		// inMemory runs the row against the in-memory fake in a synctest
		// bubble (a refused connection, which a loopback server cannot
		// give per request, and the per-attempt timeout, which is then
		// measured on the bubble's clock); the other rows run over a
		// loopback socket, so that net/http's own errors are classified.
		inMemory bool
		// opts are the row's client options.
		opts []analytics.Option
	}
	var rows []row
	for _, s := range []int{408, 429, 500, 502, 503, 504} {
		rows = append(rows, row{name: fmt.Sprint(s), status: s, fault: analyticstest.Response{Status: s, Body: `{"error":"injected"}`}})
	}
	rows = append(rows,
		row{name: "connection refused", fault: analyticstest.Response{Refuse: true}, inMemory: true},
		row{name: "connection closed", fault: analyticstest.Response{CloseConnection: true}},
		row{name: "connection reset mid-request", fault: analyticstest.Response{Reset: true}},
		row{name: "per-attempt timeout", fault: analyticstest.Response{Delay: time.Minute}, inMemory: true,
			opts: []analytics.Option{analytics.WithRequestTimeout(150 * time.Millisecond)}},
	)
	// start returns the endpoint and the client options of a row;
	// failFirst makes only the first attempt fail.
	start := func(t *testing.T, r row, failFirst bool) (string, []analytics.Option) {
		var fake interface {
			Script(...analyticstest.Response)
			SetDefault(analyticstest.Response)
		}
		var endpoint string
		opts := append([]analytics.Option(nil), r.opts...)
		if r.inMemory {
			tr := analyticstest.NewTransport(t, analyticstest.WithAPIKey(testKey))
			fake, endpoint = tr, tr.URL
			opts = append(opts, analytics.WithHTTPClient(tr.Client()))
		} else {
			srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey))
			fake, endpoint = srv, srv.URL
		}
		if failFirst {
			fake.Script(r.fault)
		} else {
			fake.SetDefault(r.fault)
		}
		return endpoint, opts
	}
	// run runs f in a synctest bubble for the in-memory rows.
	run := func(t *testing.T, r row, f func(t *testing.T)) {
		if r.inMemory {
			synctest.Test(t, f)
		} else {
			f(t)
		}
	}

	for _, r := range rows {
		t.Run(r.name+"/recovers", func(t *testing.T) {
			t.Parallel()
			run(t, r, func(t *testing.T) {
				endpoint, opts := start(t, r, true)
				res := &results{}
				c := newTestClient(t, endpoint, fastRetries(append(opts, analytics.WithCallback(res.add))...)...)
				for i := range 3 {
					require.NoError(t, c.Enqueue(track(fmt.Sprintf("m%d", i))))
				}
				require.NoError(t, c.Flush(bounded(t)), "delivered after a retry")
				st := c.Stats()
				assert.Equal(t, int64(2), st.Requests, "one failure, one retry")
				assert.Equal(t, int64(1), st.Retries)
				assert.Equal(t, int64(3), st.Delivered)
				assert.Equal(t, int64(0), st.Failed)
				for _, got := range res.get() {
					assert.NoError(t, got.Err, got.MessageID)
				}
				assert.Len(t, res.get(), 3)
				statsAddUp(t, st)
			})
		})
		t.Run(r.name+"/persistent", func(t *testing.T) {
			t.Parallel()
			run(t, r, func(t *testing.T) {
				endpoint, opts := start(t, r, false)
				retriedFailurePersists(t, r.status, endpoint, opts)
			})
		})
	}
}

// retriedFailurePersists is TestRetriedFailures' persistent case: a
// failure of the status (0: a network error) that every attempt meets
// costs exactly WithMaxAttempts requests and is reported by Flush, Stats
// and the callback.
func retriedFailurePersists(t *testing.T, status int, endpoint string, opts []analytics.Option) {
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
	if status != 0 {
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, status, apiErr.StatusCode)
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
		if status != 0 {
			require.ErrorAs(t, res.Err, &apiErr)
			assert.Equal(t, status, apiErr.StatusCode)
		}
	}
	statsAddUp(t, st)
}

// TestConnectionRefusedError: the error of a refused connection says so.
func TestConnectionRefusedError(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
				t.Parallel()
				synctest.Test(t, func(t *testing.T) {
					fake, c := newFakeClient(t, analytics.WithRetryWait(time.Second, 10*time.Second), analytics.WithMaxRetryAfter(r.maxAfter))
					fake.Script(analyticstest.Response{Status: status, RetryAfter: r.header(time.Now())})
					require.NoError(t, c.Enqueue(track("ra")))
					require.NoError(t, c.Flush(bounded(t)))
					require.NoError(t, c.Close())
					// Each request's Time is when it arrived, on the
					// bubble's clock.
					reqs := fake.Requests()
					require.Len(t, reqs, 2)
					wait := reqs[1].Time.Sub(reqs[0].Time)
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
	t.Parallel()
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
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				srv, c := newFakeClient(t, analytics.WithMaxAttempts(r.attempts), analytics.WithRetryWait(time.Second, 5*time.Second))
				srv.SetDefault(r.f)
				require.NoError(t, c.Enqueue(track("hot")))
				start := time.Now()
				require.NotNil(t, isDeliveryError(c.Flush(bounded(t))))
				took := time.Since(start)
				require.NoError(t, c.Close())
				assert.Equal(t, int64(r.want), c.Stats().Requests)
				assert.GreaterOrEqual(t, took, r.minTotal, "the waits between attempts")
				assert.Len(t, srv.Requests(), r.want)
			})
		})
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestRetrySendsSameBytes: every attempt of a batch carries the same
// body, byte for byte: the same message ids, timestamps and sentAt,
// though the ids are random and the clock is real.
func TestRetrySendsSameBytes(t *testing.T) {
	t.Parallel()
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

// TestNetErrorIsTyped: a network failure is reported with its *net.OpError,
// so callers can tell it from an API answer.
func TestNetErrorIsTyped(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
	for _, r := range []struct {
		name string
		f    analyticstest.Response
	}{
		{"503 with backoff", analyticstest.Response{Status: 503}},
		{"429 asking for an hour", analyticstest.Response{Status: 429, RetryAfter: "3600"}},
	} {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				srv, c := newFakeClient(t, analytics.WithMaxAttempts(100), analytics.WithRetryWait(time.Second, 2*time.Second), analytics.WithMaxRetryAfter(time.Hour), analytics.WithMaxRetryTime(10*time.Second))
				srv.SetDefault(r.f)
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

// TestEarlyAnswerWhileBodyIsRead: an API that answers before it has read the
// request body (as a proxy rejecting a large request may) while the body is
// still being written. Under -race this catches a request body reused for
// the next batch while net/http still reads it.
func TestEarlyAnswerWhileBodyIsRead(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				r := bufio.NewReader(conn)
				for { // the request line and headers
					line, err := r.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				_, _ = conn.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
				buf := make([]byte, 4096)
				for { // then read the body, slowly
					if _, err := r.Read(buf); err != nil {
						return
					}
					time.Sleep(100 * time.Microsecond)
				}
			}()
		}
	}()
	c, err := analytics.New(testKey, analytics.WithEndpoint("http://"+ln.Addr().String()),
		analytics.WithLogger(quietLogger()), analytics.WithBatchSize(20), analytics.WithMaxInFlight(1))
	require.NoError(t, err)
	pad := strings.Repeat("x", 20_000)
	for range 100 {
		require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"pad": pad}}))
	}
	err = c.Close()
	var apiErr *analytics.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 400, apiErr.StatusCode)
	assert.Equal(t, int64(100), c.Stats().FailedStatus)
}

// TestEarlyAnswerLeavesTheBodyIntact: without gzip the request body is the
// batch's own buffer, lent without a copy. A RoundTripper may answer before
// it has read the body and read it later (net/http does, for an API that
// answers early): here the transport answers 401 at once and keeps each
// body unread, the batch is reported, the next batch is queued, and only
// then are the bodies read. Each must be its own batch, as it was sent: the
// queue does not reuse a buffer that a request body still reads. With gzip
// the body is a compressed copy and nothing is lent.
func TestEarlyAnswerLeavesTheBodyIntact(t *testing.T) {
	t.Parallel()
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprintf("gzip=%v", gz), func(t *testing.T) {
			t.Parallel()
			rt := &lateReader{}
			c, err := analytics.New(testKey, analytics.WithEndpoint("http://127.0.0.1:1"),
				analytics.WithHTTPClient(&http.Client{Transport: rt}), analytics.WithGzip(gz),
				analytics.WithLogger(quietLogger()), analytics.WithBatchSize(5), analytics.WithMaxInFlight(1))
			require.NoError(t, err)
			const rounds = 3
			for round := range rounds {
				for i := range 5 { // the same sizes every round: a reused buffer would fit
					require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{
						"round": round, "i": i, "pad": strings.Repeat(string(rune('a'+round)), 1000)}}))
				}
				var de *analytics.DeliveryError
				require.ErrorAs(t, c.Flush(bounded(t)), &de, "round %d: answered 401", round)
			}
			require.NoError(t, c.Close(), "the losses were reported by Flush")

			bodies := rt.take()
			require.Len(t, bodies, rounds, "requests")
			for round, rc := range bodies {
				raw, err := io.ReadAll(rc)
				require.NoError(t, err)
				require.NoError(t, rc.Close())
				if gz {
					raw = gunzip(t, raw)
				}
				var req struct {
					Batch []struct {
						Properties struct {
							Round int    `json:"round"`
							I     int    `json:"i"`
							Pad   string `json:"pad"`
						} `json:"properties"`
					} `json:"batch"`
				}
				require.NoError(t, json.Unmarshal(raw, &req), "request %d, read after its answer: %.200s", round, raw)
				require.Len(t, req.Batch, 5, "request %d", round)
				for i, m := range req.Batch {
					p := m.Properties
					assert.Equal(t, round, p.Round, "request %d, message %d: another batch's bytes", round, i)
					assert.Equal(t, i, p.I, "request %d, message %d", round, i)
					assert.Equal(t, strings.Repeat(string(rune('a'+round)), 1000), p.Pad, "request %d, message %d", round, i)
				}
			}
		})
	}
}

// lateReader is an http.RoundTripper that answers 401 at once and keeps
// every request body, unread and open, for the test to read later, as
// http.RoundTripper allows ("RoundTrip must always close the body ... but
// may do so in a separate goroutine even after RoundTrip returns").
type lateReader struct {
	mu     sync.Mutex
	bodies []io.ReadCloser
}

func (l *lateReader) RoundTrip(r *http.Request) (*http.Response, error) {
	l.mu.Lock()
	l.bodies = append(l.bodies, r.Body)
	l.mu.Unlock()
	return &http.Response{StatusCode: http.StatusUnauthorized, Header: http.Header{},
		Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
}

// take returns the bodies kept so far.
func (l *lateReader) take() []io.ReadCloser {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bodies
}

// TestBisectedHalvesSendTheSameBytes: the halves of a refused batch are
// parts of the batch's buffer (without gzip) or compressed from it (with
// gzip); every request, down to the single poisoned message, is exactly
// {"batch":[ then the batch's messages lo..hi as the first request carried
// them, commas between them and none at either end, then sentAt. Messages
// of different sizes, so that an offset off by one shows.
func TestBisectedHalvesSendTheSameBytes(t *testing.T) {
	t.Parallel()
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprintf("gzip=%v", gz), func(t *testing.T) {
			t.Parallel()
			rt := &poisonRefuser{gzip: gz}
			c, err := analytics.New(testKey, analytics.WithEndpoint("http://127.0.0.1:1"),
				analytics.WithHTTPClient(&http.Client{Transport: rt}), analytics.WithGzip(gz),
				analytics.WithLogger(quietLogger()), analytics.WithBatchSize(7), analytics.WithMaxInFlight(1))
			require.NoError(t, err)
			for i := range 7 {
				event := "E"
				if i == 3 {
					event = "Poison"
				}
				require.NoError(t, c.Enqueue(analytics.Track{UserID: strings.Repeat("u", i+1), Event: event,
					Properties: analytics.Properties{"i": i}}))
			}
			err = c.Flush(bounded(t))
			var de *analytics.DeliveryError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, int64(1), de.Undelivered, "only the poisoned message is lost")
			require.NoError(t, c.Close())

			bodies := rt.take()
			// [0,7) refused; [0,3) taken; [3,7) refused; [3,5) refused;
			// [3,4) refused, alone; [4,5) taken; [5,7) taken.
			ranges := [][2]int{{0, 7}, {0, 3}, {3, 7}, {3, 5}, {3, 4}, {4, 5}, {5, 7}}
			require.Len(t, bodies, len(ranges), "requests")
			sentAt := regexp.MustCompile(`^\{"batch":\[(.*)\],"sentAt":"[0-9T:.Z-]{24}"\}$`)
			m := sentAt.FindSubmatch(bodies[0])
			require.NotNil(t, m, "the first request: %s", bodies[0])
			var msgs []json.RawMessage
			require.NoError(t, json.Unmarshal(append(append([]byte("["), m[1]...), ']'), &msgs))
			require.Len(t, msgs, 7)
			for k, r := range ranges {
				want := `{"batch":[` + string(bytes.Join(toBytes(msgs[r[0]:r[1]]), []byte(","))) + `],"sentAt":`
				got := string(bodies[k])
				assert.True(t, strings.HasPrefix(got, want) && sentAt.MatchString(got),
					"request %d, messages %d..%d:\n got %s\nwant %s\"…\"}", k, r[0], r[1], got, want)
			}
		})
	}
}

// gunzip decompresses a gzipped request body.
func gunzip(t *testing.T, raw []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	require.NoError(t, err)
	out, err := io.ReadAll(zr)
	require.NoError(t, err)
	return out
}

// toBytes converts raw messages to byte slices.
func toBytes(msgs []json.RawMessage) [][]byte {
	out := make([][]byte, len(msgs))
	for i, m := range msgs {
		out[i] = m
	}
	return out
}

// poisonRefuser is an http.RoundTripper that records every request body,
// decompressed, and answers 400 to those holding the event "Poison", 200
// to the others.
type poisonRefuser struct {
	gzip   bool
	mu     sync.Mutex
	bodies [][]byte
}

func (p *poisonRefuser) RoundTrip(r *http.Request) (*http.Response, error) {
	raw, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		return nil, err
	}
	if p.gzip {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		if raw, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
	}
	p.mu.Lock()
	p.bodies = append(p.bodies, raw)
	p.mu.Unlock()
	status := http.StatusOK
	if bytes.Contains(raw, []byte(`"event":"Poison"`)) {
		status = http.StatusBadRequest
	}
	return &http.Response{StatusCode: status, Header: http.Header{},
		Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
}

// take returns the bodies received so far.
func (p *poisonRefuser) take() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bodies
}

// retryRun sends one message to a fake API that always answers 503, with
// opts, and returns the client's Stats once Flush has returned, and how
// long it took on synctest's clock.
func retryRun(t *testing.T, opts ...analytics.Option) (analytics.Stats, time.Duration) {
	t.Helper()
	var st analytics.Stats
	var took time.Duration
	synctest.Test(t, func(t *testing.T) {
		tr := analyticstest.NewTransport(t)
		tr.SetDefault(analyticstest.Response{Status: 503})
		opts = append([]analytics.Option{
			analytics.WithHTTPClient(tr.Client()),
			analytics.WithEndpoint("http://127.0.0.1:1"),
			analytics.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		}, opts...)
		c, err := analytics.New("key", opts...)
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "Retried"}))
		start := time.Now()
		var de *analytics.DeliveryError
		require.ErrorAs(t, c.Flush(context.Background()), &de, "Flush: want a DeliveryError for the message")
		require.Equal(t, int64(1), de.Undelivered)
		took = time.Since(start)
		st = c.Stats()
	})
	return st, took
}

// TestWithRetry: WithRetry sets the retry policy; a zero field leaves what
// the default or an earlier option set, and a later option wins.
func TestWithRetry(t *testing.T) {
	t.Parallel()
	fast := analytics.RetryPolicy{WaitMin: time.Millisecond, WaitMax: time.Millisecond}
	for _, tc := range []struct {
		name         string
		opts         []analytics.Option
		wantRequests int64
	}{
		{"MaxAttempts", []analytics.Option{analytics.WithRetry(analytics.RetryPolicy{MaxAttempts: 3, WaitMin: time.Second, WaitMax: time.Second})}, 3},
		{"no retry", []analytics.Option{analytics.WithRetry(analytics.RetryPolicy{MaxAttempts: 1})}, 1},
		{"the default attempts", []analytics.Option{analytics.WithRetry(fast)}, analytics.DefaultMaxAttempts},
		{"a zero field keeps an earlier option", []analytics.Option{analytics.WithMaxAttempts(5), analytics.WithRetry(fast)}, 5},
		{"a later option wins", []analytics.Option{analytics.WithRetry(analytics.RetryPolicy{MaxAttempts: 4, WaitMin: time.Millisecond, WaitMax: time.Millisecond}), analytics.WithMaxAttempts(2)}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := retryRun(t, tc.opts...)
			assert.Equal(t, tc.wantRequests, st.Requests, "requests")
			assert.Equal(t, tc.wantRequests-1, st.Retries, "retries")
			assert.Equal(t, int64(1), st.FailedRetries, "given up")
		})
	}
}

// TestWithRetryMaxTime: MaxTime bounds a batch's retries, waits included:
// a backoff that would outlast it ends with the batch given up at MaxTime.
func TestWithRetryMaxTime(t *testing.T) {
	t.Parallel()
	st, took := retryRun(t, analytics.WithRetry(analytics.RetryPolicy{
		MaxAttempts: 10, WaitMin: 30 * time.Second, WaitMax: time.Minute, MaxTime: 10 * time.Second}))
	assert.Equal(t, int64(1), st.Requests, "requests")
	assert.Equal(t, int64(1), st.FailedRetries, "given up")
	assert.Equal(t, 10*time.Second, took, "the batch is given up at MaxTime")
}

// TestWithRetryRefusesBadPolicies: New refuses a policy out of range, and
// says which option.
func TestWithRetryRefusesBadPolicies(t *testing.T) {
	t.Parallel()
	for _, p := range []analytics.RetryPolicy{
		{MaxAttempts: -1},
		{MaxAttempts: 101},
		{WaitMin: -time.Second},
		{MaxTime: -time.Second},
		{MaxRetryAfter: -time.Second},
		{WaitMin: time.Second, WaitMax: time.Millisecond},
		{WaitMax: time.Millisecond}, // below the default WaitMin
	} {
		_, err := analytics.New("key", analytics.WithRetry(p))
		if assert.Error(t, err, "WithRetry(%+v)", p) {
			assert.Contains(t, err.Error(), "WithRetry", "WithRetry(%+v): the error names the option", p)
		}
	}
}
