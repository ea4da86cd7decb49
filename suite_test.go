package analytics_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// This file holds what the package's test files share: TestMain, the
// client every test builds (newTestClient and its option presets), the
// bounds of every wait (patience, bounded, waitFor), the long mode, and
// small checks of results. The fake API is the public analyticstest
// (a Server on loopback, or a Transport in memory inside synctest
// bubbles); TESTING.md maps each behaviour to its test file.

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testKey is the API key of the tests. Tests that capture logs and errors
// check that it never appears in them.
const testKey = "sk_test_0123456789abcdef"

// fixedTime is the clock of deterministic tests.
var fixedTime = time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC)

// longTests reports whether the long mode is on: ANALYTICS_LONG_TESTS=1,
// which .ci/run sets for a second run of the package. Tests with a
// full-size variant run it then (the soak with 200,000 events, the heap
// bound with the default queue and the pools emptied every 5 messages,
// 3,000 messages of up to 31 KB through the batch limits); go test ./...
// runs the smaller sizes, which check the same properties.
func longTests() bool { return os.Getenv("ANALYTICS_LONG_TESTS") != "" }

// patience is how long a test waits for what the client does on its own (a
// Flush, a Shutdown, a request in flight, memory to settle) before it
// fails. It bounds a hang, not the speed of a pass: what takes a fraction
// of a second on an idle machine can take many seconds under -race on two
// busy cores, so it is generous. Inside a synctest bubble it is measured on
// the bubble's clock, where waiting costs nothing.
const patience = 2 * time.Minute

// bounded returns a context that ends after patience (on the bubble's
// clock inside synctest) and is canceled when the test ends: every Flush
// and Shutdown of the suite waits with it, so that a regression that hangs
// fails with its test's name rather than at go test's timeout.
func bounded(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds, or fails the test after patience. It
// waits for a state the client reaches on its own (a request in flight),
// never for time to pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			require.FailNow(t, "timed out waiting for "+what)
		case <-time.After(time.Millisecond):
		}
	}
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
	require.NoError(t, err, "New")
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newFakeClient returns the in-memory fake API (analyticstest.NewTransport)
// and a test client that sends to it, configured further by opts. It is the
// set-up of tests inside a synctest bubble, which must not use a socket (a
// connection waits on the real network, which does not let the bubble's
// clock advance); call it inside the bubble.
func newFakeClient(t *testing.T, opts ...analytics.Option) (*analyticstest.Transport, *analytics.Client) {
	t.Helper()
	tr := analyticstest.NewTransport(t, analyticstest.WithAPIKey(testKey))
	return tr, newTestClient(t, tr.URL, through(tr, opts...)...)
}

// deterministic is opts after a fixed clock and ids msg-1, msg-2, …, for
// tests that compare bytes.
func deterministic(opts ...analytics.Option) []analytics.Option {
	return append([]analytics.Option{
		analytics.WithClock(func() time.Time { return fixedTime }),
		analytics.WithMessageIDs(sequentialIDs()),
	}, opts...)
}

// sequentialIDs returns a WithMessageIDs function producing msg-1, msg-2, …
func sequentialIDs() func() string {
	var n atomic.Int64
	return func() string { return fmt.Sprintf("msg-%d", n.Add(1)) }
}

// fastRetries is opts after retry waits of milliseconds, so that a test of
// what is retried does not wait for the default backoff.
func fastRetries(opts ...analytics.Option) []analytics.Option {
	return append([]analytics.Option{
		analytics.WithRetryWait(time.Millisecond, 2*time.Millisecond),
		analytics.WithMaxRetryAfter(10 * time.Millisecond),
	}, opts...)
}

// through is opts after an HTTP client that sends through rt (the fake's
// Transport, or a transport of the test's own).
func through(rt http.RoundTripper, opts ...analytics.Option) []analytics.Option {
	return append([]analytics.Option{analytics.WithHTTPClient(&http.Client{Transport: rt})}, opts...)
}

// quietLogger discards everything; logCapture records it.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// logCapture records what a logger writes, at every level, for tests that
// check what is logged (and that the key never is).
type logCapture = analytics.LogCapture

// track is a valid track call with the message id id.
func track(id string) analytics.Track {
	return analytics.Track{UserID: "u-1", Event: "Reliability Checked", MessageID: id, Properties: analytics.Properties{"n": id}}
}

func ptr[T any](v T) *T { return &v }

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

// statsAddUp checks the identities Stats documents for an idle client.
func statsAddUp(t testing.TB, st analytics.Stats) {
	t.Helper()
	assert.Equal(t, st.Enqueued, st.Delivered+st.Failed+st.Queued+st.InFlight,
		"Stats do not add up: Enqueued != Delivered + Failed + Queued + InFlight in %+v", st)
	assert.Equal(t, st.Failed, st.FailedStatus+st.FailedRetries+st.FailedShutdown,
		"Stats do not add up: Failed != FailedStatus + FailedRetries + FailedShutdown in %+v", st)
}

// acceptedIDs returns how often the fake (a Server or a Transport)
// accepted each message id.
func acceptedIDs(fake interface {
	Messages() []analyticstest.Message
}) map[string]int {
	ids := map[string]int{}
	for _, m := range fake.Messages() {
		ids[m.MessageID]++
	}
	return ids
}

// decoded returns a received message as a JSON object, for checks of its
// exact text (a timestamp's format, a nested context field).
func decoded(t testing.TB, m analyticstest.Message) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal(m.Raw, &v), "message is not a JSON object")
	return v
}

// isDeliveryError returns the *DeliveryError in err, if any.
func isDeliveryError(err error) *analytics.DeliveryError {
	var de *analytics.DeliveryError
	if errors.As(err, &de) {
		return de
	}
	return nil
}

// closedPort returns a loopback address on which nothing listens: a
// connection to it is refused by the operating system. Tests of how a
// real refused connection is reported use it; elsewhere the fake's
// Response{Refuse: true} refuses an attempt.
func closedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}
