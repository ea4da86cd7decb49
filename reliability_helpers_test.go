package analytics_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

// This file holds the round trippers of the reliability suite
// (reliability_*_test.go) that hang, slow down or redirect attempts; the
// API itself is the public analyticstest fake, except in the soak.

// closedPort returns a loopback address on which nothing listens: a
// connection to it is refused.
func closedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// hangingTransport never answers: each round trip waits for its request's
// context, or for release to be closed, and then answers 200 or fails.
// It makes no connection, so it works inside a synctest bubble.
type hangingTransport struct {
	release chan struct{}
	started atomic.Int64
}

func newHangingTransport() *hangingTransport {
	return &hangingTransport{release: make(chan struct{})}
}

func (h *hangingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	h.started.Add(1)
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	select {
	case <-r.Context().Done():
		return nil, r.Context().Err()
	case <-h.release:
		return okResponse(r), nil
	}
}

func okResponse(r *http.Request) *http.Response {
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader("{}")),
		ContentLength: 2, Request: r,
	}
}

// clockTransport records when each attempt starts on the caller's clock
// (synctest's inside a bubble) and, if delay is set, waits that long
// (on the same clock) before passing the request on.
type clockTransport struct {
	next  http.RoundTripper
	delay time.Duration

	mu sync.Mutex
	at []time.Time
}

func (c *clockTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.at = append(c.at, time.Now())
	c.mu.Unlock()
	if c.delay > 0 {
		t := time.NewTimer(c.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return nil, r.Context().Err()
		}
	}
	return c.next.RoundTrip(r)
}

func (c *clockTransport) times() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.at...)
}

// redirectFirst sends the first n attempts to addr instead of the
// request's host (a closed port, to inject connection refused), and the
// rest where they were going.
type redirectFirst struct {
	next http.RoundTripper
	addr string
	n    int64
	seen atomic.Int64
}

func (rf *redirectFirst) RoundTrip(r *http.Request) (*http.Response, error) {
	if rf.seen.Add(1) <= rf.n {
		r2 := r.Clone(r.Context())
		r2.URL.Host = rf.addr
		r2.Host = rf.addr
		return rf.next.RoundTrip(r2)
	}
	return rf.next.RoundTrip(r)
}

// results collects WithCallback results.
type results struct {
	mu  sync.Mutex
	all []analytics.Result
}

func (r *results) add(res analytics.Result) {
	r.mu.Lock()
	r.all = append(r.all, res)
	r.mu.Unlock()
}

func (r *results) get() []analytics.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]analytics.Result(nil), r.all...)
}

// waitFor polls cond until it holds or the test's patience (5s) runs out.
// It waits for a state the client reaches on its own (a request in
// flight), never for time to pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(time.Millisecond):
		}
	}
}

// statsAddUp checks the identities Stats documents for an idle client.
func statsAddUp(t testing.TB, st analytics.Stats) {
	t.Helper()
	if st.Enqueued != st.Delivered+st.Failed+st.Queued+st.InFlight {
		t.Errorf("Stats do not add up: Enqueued %d != Delivered %d + Failed %d + Queued %d + InFlight %d",
			st.Enqueued, st.Delivered, st.Failed, st.Queued, st.InFlight)
	}
	if st.Failed != st.FailedStatus+st.FailedRetries+st.FailedShutdown {
		t.Errorf("Stats do not add up: Failed %d != FailedStatus %d + FailedRetries %d + FailedShutdown %d",
			st.Failed, st.FailedStatus, st.FailedRetries, st.FailedShutdown)
	}
}

// acceptedIDs returns how often the fake accepted each message id.
func acceptedIDs(srv *analyticstest.Server) map[string]int {
	ids := map[string]int{}
	for _, m := range srv.Messages() {
		ids[m.MessageID]++
	}
	return ids
}

// isDeliveryError returns the *DeliveryError in err, if any.
func isDeliveryError(err error) *analytics.DeliveryError {
	var de *analytics.DeliveryError
	if errors.As(err, &de) {
		return de
	}
	return nil
}
