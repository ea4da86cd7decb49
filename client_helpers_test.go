package analytics_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
)

// testKey is the API key of the tests. Tests that capture logs and errors
// check that it never appears in them.
const testKey = "sk_test_0123456789abcdef"

// fixedTime is the clock of deterministic tests.
var fixedTime = time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC)

// sink is a loopback Data Pipelines API for the client's tests. It records
// every request and answers with respond, or 200.
type sink struct {
	*httptest.Server
	t *testing.T

	mu       sync.Mutex
	requests []sinkRequest
	respond  func(n int, w http.ResponseWriter, r *http.Request) // n counts requests from 1
	count    atomic.Int64
}

type sinkRequest struct {
	at       time.Time
	path     string
	user     string
	password string
	body     []byte // decompressed
	wire     int
	messages []json.RawMessage
	status   int
}

func newSink(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *sink {
	t.Helper()
	s := &sink{t: t, respond: respond}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	n := int(s.count.Add(1))
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	body := raw
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			s.t.Errorf("bad gzip body: %v", err)
			return
		}
		if body, err = io.ReadAll(zr); err != nil {
			s.t.Errorf("bad gzip body: %v", err)
			return
		}
	}
	user, pass, _ := r.BasicAuth()
	req := sinkRequest{at: time.Now(), path: r.URL.Path, user: user, password: pass, body: body, wire: len(raw)}
	var env struct {
		Batch  []json.RawMessage `json:"batch"`
		SentAt string            `json:"sentAt"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		s.t.Errorf("request body is not a batch: %v\n%s", err, body)
	}
	req.messages = env.Batch
	rec := &statusRecorder{ResponseWriter: w, status: 200}
	if s.respond != nil {
		s.respond(n, rec, r)
	}
	req.status = rec.status
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }

// Requests returns the requests answered so far.
func (s *sink) Requests() []sinkRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkRequest(nil), s.requests...)
}

// Accepted returns the messages of requests answered with 2xx.
func (s *sink) Accepted() []map[string]any {
	var out []map[string]any
	for _, r := range s.Requests() {
		if r.status < 200 || r.status > 299 {
			continue
		}
		for _, m := range r.messages {
			var v map[string]any
			if err := json.Unmarshal(m, &v); err != nil {
				s.t.Fatalf("message is not a JSON object: %v", err)
			}
			out = append(out, v)
		}
	}
	return out
}

// AcceptedIDs counts how often each messageId was accepted.
func (s *sink) AcceptedIDs() map[string]int {
	ids := map[string]int{}
	for _, m := range s.Accepted() {
		ids[m["messageId"].(string)]++
	}
	return ids
}

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
