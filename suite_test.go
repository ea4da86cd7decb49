package analytics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"go.uber.org/goleak"
)

// testKey is the API key of the tests. Tests that capture logs and errors
// check that it never appears in them.
const testKey = "sk_test_0123456789abcdef"

// fixedTime is the clock of deterministic tests.
var fixedTime = time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC)

// sink is the analyticstest fake, with the accessors of client_test.go
// and encode_test.go.
type sink struct {
	*analyticstest.Server
	t *testing.T
}

type sinkRequest struct {
	at       time.Time
	path     string
	user     string
	body     []byte // decompressed
	wire     int
	messages []json.RawMessage
	status   int
}

// newSink returns a fake API that answers with script, one response per
// request, then 200 (or what the test sets with SetDefault).
func newSink(t *testing.T, script ...analyticstest.Response) *sink {
	t.Helper()
	srv := analyticstest.NewServer(t)
	srv.Script(script...)
	return &sink{Server: srv, t: t}
}

// Requests returns the requests answered so far.
func (s *sink) Requests() []sinkRequest {
	var out []sinkRequest
	for _, r := range s.Server.Requests() {
		sr := sinkRequest{at: r.Time, path: r.Path, user: r.APIKey, body: r.Body, wire: r.WireSize, status: r.Status}
		for _, m := range r.Messages {
			sr.messages = append(sr.messages, m.Raw)
		}
		out = append(out, sr)
	}
	return out
}

// Accepted returns the messages the fake accepted.
func (s *sink) Accepted() []map[string]any {
	var out []map[string]any
	for _, m := range s.Server.Messages() {
		var v map[string]any
		if err := json.Unmarshal(m.Raw, &v); err != nil {
			s.t.Fatalf("message is not a JSON object: %v", err)
		}
		out = append(out, v)
	}
	return out
}

// AcceptedIDs counts how often each messageId was accepted.
func (s *sink) AcceptedIDs() map[string]int { return acceptedIDs(s.Server) }

// quietLogger discards everything; logCapture records it.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logCapture) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logCapture) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logCapture) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// bounded returns a context that ends after 30 seconds (on the bubble's
// clock inside synctest) and is canceled when the test ends: every Flush
// and Shutdown of the suite waits with it, so that a regression that hangs
// fails within seconds rather than at go test's 10-minute timeout.
func bounded(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// sequentialIDs returns a WithMessageIDs function producing msg-1, msg-2, …
func sequentialIDs() func() string {
	var n atomic.Int64
	return func() string { return fmt.Sprintf("msg-%d", n.Add(1)) }
}

// newTestClient is the suite's one client builder: a client for endpoint
// with quiet logs and an hourly flush tick (batches are cut by size, Flush
// and Close), configured further by opts (see the presets deterministic,
// fastRetries and through), and closed when the test ends; inside a
// synctest bubble too, whose cleanups run in the bubble.
func newTestClient(t testing.TB, endpoint string, opts ...analytics.Option) *analytics.Client {
	t.Helper()
	base := []analytics.Option{
		analytics.WithEndpoint(endpoint),
		analytics.WithLogger(quietLogger()),
		analytics.WithFlushInterval(time.Hour),
	}
	c, err := analytics.New(testKey, append(base, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// deterministic is opts after a fixed clock and ids msg-1, msg-2, …, for
// tests that compare bytes.
func deterministic(opts ...analytics.Option) []analytics.Option {
	return append([]analytics.Option{
		analytics.WithClock(func() time.Time { return fixedTime }),
		analytics.WithMessageIDs(sequentialIDs()),
	}, opts...)
}

// fastRetries is opts after retry waits of milliseconds, so that a test of
// what is retried does not wait for the default backoff.
func fastRetries(opts ...analytics.Option) []analytics.Option {
	return append([]analytics.Option{
		analytics.WithRetryWait(time.Millisecond, 2*time.Millisecond),
		analytics.WithMaxRetryAfter(10 * time.Millisecond),
	}, opts...)
}

// through is opts after an HTTP client that sends through rt (a fake
// transport, or one that records or delays attempts).
func through(rt http.RoundTripper, opts ...analytics.Option) []analytics.Option {
	return append([]analytics.Option{analytics.WithHTTPClient(&http.Client{Transport: rt})}, opts...)
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func ptr[T any](v T) *T { return &v }

// noKeepAlive returns a transport for synctest bubbles: an idle keep-alive
// connection waits on the real network, which synctest does not count as
// durably blocked, so the bubble's clock would never advance.
func noKeepAlive() *http.Transport { return &http.Transport{DisableKeepAlives: true} }

func track(id string) analytics.Track {
	return analytics.Track{UserID: "u-1", Event: "Reliability Checked", MessageID: id, Properties: analytics.Properties{"n": id}}
}

// refusingTransport answers every request 400 at once, without a network.
type refusingTransport struct{ n atomic.Int64 }

func (rt *refusingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.n.Add(1)
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusBadRequest, Status: "400 Bad Request", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   io.NopCloser(strings.NewReader(`{"error":"refused"}`)), Request: r,
	}, nil
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
