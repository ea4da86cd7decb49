package analytics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
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
