package analytics_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	soakFlag   = flag.Bool("soak", false, "run the reliability soak with 200,000 events (default 5,000); or set CDP_SOAK=1 or ANALYTICS_LONG_TESTS=1")
	soakEvents = flag.Int("soak.events", 0, "events of the soak (overrides -soak)")
)

// soakSize is the number of events of TestSoak: 5,000 by default, 200,000
// in the long mode (ANALYTICS_LONG_TESTS=1), with -soak or CDP_SOAK=1, or
// -soak.events.
func soakSize() int {
	switch {
	case *soakEvents > 0:
		return *soakEvents
	case *soakFlag, os.Getenv("CDP_SOAK") != "", longTests():
		return 200_000
	}
	return 5_000
}

// TestSoak sends many events through a server that fails 20% of requests
// with a 5xx, answers 10% with 429 and Retry-After, and drops 10% of
// connections (half after reading the request, half with a reset before
// reading it). Nothing may be lost: every message id is delivered at
// least once, nothing is dropped or failed, and Stats add up.
func TestSoak(t *testing.T) {
	t.Parallel()
	n := soakSize()
	if testing.Short() && n > 5_000 {
		t.Skip("the long soak does not run with -short")
	}
	rng := rand.New(rand.NewPCG(2026, uint64(n)))
	var rngMu sync.Mutex
	statuses5xx := []int{500, 502, 503, 504}
	srv := newFaultServer(t, func(int) fault {
		rngMu.Lock()
		p, k := rng.IntN(100), rng.IntN(4)
		rngMu.Unlock()
		switch {
		case p < 20:
			return fault{Status: statuses5xx[k], Body: `{"error":"injected"}`}
		case p < 30:
			return fault{Status: 429, RetryAfter: strconv.Itoa(1 + k)}
		case p < 35:
			return fault{Drop: true}
		case p < 40:
			return fault{Reset: true}
		}
		return fault{}
	})

	res := &results{}
	// The callback only counts: at 200,000 events, keeping every Result
	// would measure the test, not the client.
	var cbMu sync.Mutex
	cbDelivered, cbFailed := 0, 0
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	defer tr.CloseIdleConnections()
	c, err := analytics.New(testKey,
		analytics.WithEndpoint(srv.endpoint()),
		analytics.WithLogger(quietLogger()),
		analytics.WithHTTPClient(&http.Client{Transport: tr}),
		analytics.WithBatchSize(100),
		analytics.WithMaxInFlight(8),
		analytics.WithQueueCapacity(2_000),
		// With a 40% failure rate, 30 attempts make a batch's loss a
		// 1-in-10^12 event.
		analytics.WithMaxAttempts(30),
		analytics.WithRetryWait(time.Millisecond, 20*time.Millisecond),
		// Retry-After asks for 1-4s; the cap keeps the soak short and
		// is itself under test.
		analytics.WithMaxRetryAfter(25*time.Millisecond),
		analytics.WithShutdownTimeout(10*time.Minute),
		analytics.WithCallback(func(r analytics.Result) {
			cbMu.Lock()
			if r.Err == nil {
				cbDelivered++
			} else {
				cbFailed++
				res.add(r)
			}
			cbMu.Unlock()
		}),
	)
	require.NoError(t, err)

	start := time.Now()
	const producers = 8
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < n; i += producers {
				// EnqueueContext waits for room: the soak measures loss
				// in delivery, not drops at a full queue.
				err := c.EnqueueContext(context.Background(), analytics.Track{
					UserID: "soak-" + strconv.Itoa(i%97), Event: "Soak Event", MessageID: "soak-" + strconv.Itoa(i),
					Properties: analytics.Properties{"i": i, "producer": p},
				})
				if err != nil {
					assert.NoError(t, err, "EnqueueContext")
					return
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, c.Close(), "nothing lost")
	took := time.Since(start)

	accepted := srv.Accepted()
	missing, dup := 0, 0
	for i := range n {
		switch k := accepted["soak-"+strconv.Itoa(i)]; {
		case k == 0:
			missing++
		case k > 1:
			dup++
		}
	}
	assert.Zero(t, missing, "message ids never delivered")
	assert.Len(t, accepted, n, "no id delivered that was not sent")

	st := c.Stats()
	assert.Equal(t, int64(n), st.Enqueued)
	assert.Equal(t, int64(n), st.Delivered)
	assert.Zero(t, st.Failed)
	assert.Zero(t, st.DroppedQueueFull)
	assert.Zero(t, st.Queued)
	assert.Zero(t, st.InFlight)
	statsAddUp(t, st)
	assert.Equal(t, n, cbDelivered, "a callback for each message")
	assert.Zero(t, cbFailed, "failures: %v", res.get())
	assert.Equal(t, int64(srv.Requests()), st.Requests, "requests counted by the client and by the server")

	statuses := srv.Statuses()
	keys := make([]int, 0, len(statuses))
	for k := range statuses {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	summary := ""
	for _, k := range keys {
		name := strconv.Itoa(k)
		if k == 0 {
			name = "dropped"
		}
		summary += fmt.Sprintf(" %s:%d", name, statuses[k])
	}
	t.Logf("soak: %d events in %v (%.0f events/s): %d batches, %d requests, %d retries, %d duplicates; answers%s",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), st.Batches, st.Requests, st.Retries, dup, summary)
}

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

// faultServer is the soak's loopback Data Pipelines API, whose answer to
// request n (counted from 1) is decide(n). Every other test uses the
// public analyticstest fake; the soak needs this one because it keeps only
// the ids of what it accepted, so that 200,000 events fit in memory. It checks every request it reads against
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
	assert.LessOrEqual(s.t, len(body), analytics.MaxBatchBytes, "request body over MaxBatchBytes")
	var env struct {
		Batch  []json.RawMessage `json:"batch"`
		SentAt string            `json:"sentAt"`
	}
	err := json.Unmarshal(body, &env)
	if !assert.NoError(s.t, err, "request body is not a batch: %.200s", body) ||
		!assert.NotEmpty(s.t, env.Batch, "request body without messages: %.200s", body) ||
		!assert.NotEmpty(s.t, env.SentAt, "request body without sentAt: %.200s", body) {
		return nil
	}
	ids := make([]string, 0, len(env.Batch))
	for _, raw := range env.Batch {
		assert.LessOrEqual(s.t, len(raw), analytics.MaxMessageBytes, "message over MaxMessageBytes")
		var m struct {
			MessageID string `json:"messageId"`
		}
		assert.NoError(s.t, json.Unmarshal(raw, &m), "message: %.200s", raw)
		assert.NotEmpty(s.t, m.MessageID, "message without a messageId: %.200s", raw)
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
	return maps.Clone(s.accepted)
}

// Statuses returns how many requests were answered with each status (0:
// no answer).
func (s *faultServer) Statuses() map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.statuses)
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
