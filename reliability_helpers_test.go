package analytics_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

// This file holds the fakes of the reliability suite (reliability_*_test.go):
// a loopback server that injects faults, and round trippers that hang, slow
// down or redirect attempts.

// fault is how faultServer answers one request.
type fault struct {
	Status     int    // 0 means 200
	RetryAfter string // sent as the Retry-After header when not empty
	Body       string // the response body; none when empty (a bodiless answer)
	// Drop reads the request, then closes the connection without an answer.
	Drop bool
	// Reset closes the connection with a TCP reset before reading the
	// request body: a connection reset mid-request.
	Reset bool
	// Hang holds the answer until the request's context ends or the
	// server closes.
	Hang bool
	// Delay holds the answer this long (real time).
	Delay time.Duration
}

// faultServer is a loopback Data Pipelines API whose answer to request n
// (counted from 1) is decide(n). It checks every request it reads against
// the API's limits, and records which message ids it accepted (answered
// with 2xx), so a test can prove at-least-once delivery without keeping
// every body.
type faultServer struct {
	*httptest.Server
	t      testing.TB
	decide func(n int) fault

	count    atomic.Int64
	closing  chan struct{}
	closeOne sync.Once

	mu       sync.Mutex
	accepted map[string]int // message id → times accepted
	statuses map[int]int    // status answered (0: no answer) → requests
}

func newFaultServer(t testing.TB, decide func(n int) fault) *faultServer {
	t.Helper()
	s := &faultServer{t: t, decide: decide, closing: make(chan struct{}), accepted: map[string]int{}, statuses: map[int]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.close)
	return s
}

func (s *faultServer) close() {
	s.closeOne.Do(func() { close(s.closing) })
	s.Server.Close()
}

// endpoint is the base URL to pass to WithEndpoint.
func (s *faultServer) endpoint() string { return s.URL + "/v1" }

func (s *faultServer) serve(w http.ResponseWriter, r *http.Request) {
	n := int(s.count.Add(1))
	f := fault{}
	if s.decide != nil {
		f = s.decide(n)
	}
	if f.Reset {
		s.note(0, nil)
		resetConnection(w)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.note(0, nil)
		return
	}
	ids := s.check(body)
	switch {
	case f.Hang:
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		s.note(0, nil)
		return
	case f.Delay > 0:
		timer := time.NewTimer(f.Delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.Context().Done():
			s.note(0, nil)
			return
		case <-s.closing:
			s.note(0, nil)
			return
		}
	}
	if f.Drop {
		s.note(0, nil)
		hangUpConnection(w)
		return
	}
	status := f.Status
	if status == 0 {
		status = http.StatusOK
	}
	if status >= 200 && status < 300 {
		s.note(status, ids)
	} else {
		s.note(status, nil)
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	w.WriteHeader(status)
	if f.Body != "" {
		_, _ = io.WriteString(w, f.Body)
	}
}

// check verifies a request body against the API's rules and returns its
// message ids.
func (s *faultServer) check(body []byte) []string {
	if len(body) > analytics.MaxBatchBytes {
		s.t.Errorf("request body of %d bytes, over MaxBatchBytes", len(body))
	}
	var env struct {
		Batch  []json.RawMessage `json:"batch"`
		SentAt string            `json:"sentAt"`
	}
	if err := json.Unmarshal(body, &env); err != nil || len(env.Batch) == 0 || env.SentAt == "" {
		s.t.Errorf("request body is not a batch (%v): %.200s", err, body)
		return nil
	}
	ids := make([]string, 0, len(env.Batch))
	for _, raw := range env.Batch {
		if len(raw) > analytics.MaxMessageBytes {
			s.t.Errorf("message of %d bytes, over MaxMessageBytes", len(raw))
		}
		var m struct {
			MessageID string `json:"messageId"`
		}
		if err := json.Unmarshal(raw, &m); err != nil || m.MessageID == "" {
			s.t.Errorf("message without a messageId: %.200s", raw)
		}
		ids = append(ids, m.MessageID)
	}
	return ids
}

func (s *faultServer) note(status int, ids []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statuses[status]++
	for _, id := range ids {
		s.accepted[id]++
	}
}

// Accepted returns how often each message id was accepted.
func (s *faultServer) Accepted() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.accepted))
	for k, v := range s.accepted {
		out[k] = v
	}
	return out
}

// Statuses returns how many requests were answered with each status (0:
// no answer).
func (s *faultServer) Statuses() map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int]int, len(s.statuses))
	for k, v := range s.statuses {
		out[k] = v
	}
	return out
}

// Requests is the number of requests that reached the handler.
func (s *faultServer) Requests() int { return int(s.count.Load()) }

// hangUpConnection closes the connection without an answer.
func hangUpConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// resetConnection closes the connection with a TCP reset (SO_LINGER 0),
// without reading the request body.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

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
