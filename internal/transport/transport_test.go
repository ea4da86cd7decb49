package transport_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/cdpkit/analytics-go/internal/transport"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRetryable(t *testing.T) {
	retried := []int{408, 429, 500, 502, 503, 504, 507, 599}
	final := []int{200, 204, 301, 304, 400, 401, 403, 404, 409, 413, 422, 451, 501, 600}
	for _, s := range retried {
		if !transport.Retryable(s) {
			t.Errorf("Retryable(%d) = false", s)
		}
	}
	for _, s := range final {
		if transport.Retryable(s) {
			t.Errorf("Retryable(%d) = true", s)
		}
	}
}

func TestCheckRetry(t *testing.T) {
	ctx := context.Background()
	resp := func(code int) *http.Response { return &http.Response{StatusCode: code} }
	if ok, _ := transport.CheckRetry(ctx, resp(503), nil); !ok {
		t.Error("503 not retried")
	}
	if ok, _ := transport.CheckRetry(ctx, resp(400), nil); ok {
		t.Error("400 retried")
	}
	netErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	if ok, _ := transport.CheckRetry(ctx, nil, netErr); !ok {
		t.Error("a network error is not retried")
	}
	// A certificate that does not verify will not verify on a retry.
	certErr := &url.Error{Op: "Post", URL: "https://cdp.example/v1/batch", Err: &tls.CertificateVerificationError{Err: errors.New("x509: unknown authority")}}
	if ok, _ := transport.CheckRetry(ctx, nil, certErr); ok {
		t.Error("a certificate error is retried")
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	ok, err := transport.CheckRetry(canceled, resp(503), nil)
	if ok || !errors.Is(err, context.Canceled) {
		t.Errorf("after ctx ended: retry %v, err %v; want false, context.Canceled", ok, err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 10, 21, 7, 28, 0, 0, time.UTC)
	max := time.Duration(1<<63 - 1)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"   ", 0, false},
		{"0", 0, true},
		{"2", 2 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"007", 7 * time.Second, true},
		{"9223372036", 9223372036 * time.Second, true},
		{"9223372037", max, true}, // overflows a Duration: capped, not wrapped
		{"99999999999999999999999", max, true},
		{"18700000000000000000A", 0, false}, // malformed, not out of range
		{"-1", 0, false},
		{"+1", 0, false},
		{"1.5", 0, false},
		{"1e3", 0, false},
		{"0x10", 0, false},
		{"soon", 0, false},
		{"Wed, 21 Oct 2026 07:28:05 GMT", 5 * time.Second, true},
		{"Wednesday, 21-Oct-26 07:29:00 GMT", time.Minute, true}, // RFC 850
		{"Wed Oct 21 07:28:30 2026", 30 * time.Second, true},     // ANSI C
		{"Wed, 21 Oct 2026 07:27:00 GMT", 0, true},               // past: no wait
		{"Wed, 21 Oct 2026 07:28:05 CET", 0, false},
		{"Wed, 32 Oct 2026 07:28:05 GMT", 0, false},
	}
	for _, c := range cases {
		got, ok := transport.ParseRetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestBackoff(t *testing.T) {
	p := transport.Policy{MaxAttempts: 10, WaitMin: 100 * time.Millisecond, WaitMax: time.Second, MaxRetryAfter: 5 * time.Second}
	for attempt := range 100 {
		w := min(p.WaitMin<<min(attempt, 20), p.WaitMax)
		for range 20 {
			got := p.Backoff(0, 0, attempt, nil)
			if got < w/2 || got > w {
				t.Fatalf("attempt %d: wait %v outside [%v, %v]", attempt, got, w/2, w)
			}
		}
	}
	withHeader := func(code int, ra string) *http.Response {
		return &http.Response{StatusCode: code, Header: http.Header{"Retry-After": {ra}}}
	}
	if got := p.Backoff(0, 0, 0, withHeader(429, "3")); got != 3*time.Second {
		t.Errorf("Retry-After: 3 → %v", got)
	}
	if got := p.Backoff(0, 0, 0, withHeader(503, "3600")); got != p.MaxRetryAfter {
		t.Errorf("Retry-After: 3600 → %v, want the cap %v", got, p.MaxRetryAfter)
	}
	if got := p.Backoff(0, 0, 0, withHeader(503, "99999999999999999999")); got != p.MaxRetryAfter {
		t.Errorf("huge Retry-After → %v, want the cap %v", got, p.MaxRetryAfter)
	}
	date := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	if got := p.Backoff(0, 0, 0, withHeader(503, date)); got != p.MaxRetryAfter {
		t.Errorf("Retry-After: a date in an hour → %v, want the cap %v", got, p.MaxRetryAfter)
	}
	if got := p.Backoff(0, 0, 0, withHeader(429, "garbage")); got < p.WaitMin/2 || got > p.WaitMin {
		t.Errorf("malformed Retry-After → %v, want the backoff", got)
	}
	// A Retry-After on a status that is not retried does not matter.
	if got := p.Backoff(0, 0, 0, withHeader(400, "3")); got > p.WaitMin {
		t.Errorf("Retry-After on a 400 → %v", got)
	}
}

// TestBackoffLargeWaitMin: WaitMin·2^attempt can overflow a Duration for
// a large WaitMin and many attempts; the wait must stay within
// [WaitMin/2, WaitMax] and not wrap around to a short one.
func TestBackoffLargeWaitMin(t *testing.T) {
	p := transport.Policy{MaxAttempts: 100, WaitMin: 1<<33 + 1, WaitMax: time.Hour, MaxRetryAfter: time.Minute}
	for attempt := range 99 {
		got := p.Backoff(0, 0, attempt, nil)
		if got < p.WaitMin/2 || got > p.WaitMax {
			t.Fatalf("attempt %d: wait %v outside [%v, %v]", attempt, got, p.WaitMin/2, p.WaitMax)
		}
	}
}

// server answers each request with the next status of a script (200 once
// the script is done) and records the bodies.
type server struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	script []int
	header http.Header
	body   string
}

func newServer(t *testing.T, script ...int) *server {
	s := &server{script: script}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, b)
		code := 200
		if len(s.script) > 0 {
			code, s.script = s.script[0], s.script[1:]
		}
		for k, v := range s.header {
			w.Header()[k] = v
		}
		body := s.body
		s.mu.Unlock()
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.bodies...)
}

func fastPolicy(attempts int) transport.Policy {
	return transport.Policy{MaxAttempts: attempts, WaitMin: time.Millisecond, WaitMax: 2 * time.Millisecond, MaxRetryAfter: 10 * time.Millisecond}
}

// TestSenderRetriesThenSucceeds: attempts are counted from 0, every
// attempt sends the same bytes, and the Retry hook names the status.
func TestSenderRetriesThenSucceeds(t *testing.T) {
	s := newServer(t, 500, 429, 503)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	snd := transport.NewSender(&http.Client{Transport: tr}, fastPolicy(5))
	var attempts []int
	var statuses []int
	hooks := transport.Hooks{
		Attempt: func(a int) { attempts = append(attempts, a) },
		Retry: func(_ int, wait time.Duration, status int, err error) {
			statuses = append(statuses, status)
			if err != nil {
				t.Errorf("Retry hook: error %v for a status answer", err)
			}
		},
	}
	body := []byte(`{"batch":[{"type":"track"}]}`)
	status, excerpt, err := doBytes(context.Background(), snd, s.URL, http.Header{"X-Test": {"1"}}, body, hooks)
	if err != nil || status != 200 || excerpt != "" {
		t.Fatalf("Do = %d, %q, %v", status, excerpt, err)
	}
	if got := len(attempts); got != 4 || attempts[0] != 0 || attempts[3] != 3 {
		t.Errorf("attempts %v, want [0 1 2 3]", attempts)
	}
	if want := []int{500, 429, 503}; !equalInts(statuses, want) {
		t.Errorf("Retry hook statuses %v, want %v", statuses, want)
	}
	for i, b := range s.requests() {
		if !bytes.Equal(b, body) {
			t.Errorf("attempt %d sent %q, want %q", i, b, body)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSenderExactAttempts: a persistent retryable status costs exactly
// MaxAttempts requests and returns the last status; a status that is not
// retried costs one.
func TestSenderExactAttempts(t *testing.T) {
	for _, tc := range []struct {
		status, attempts, want int
	}{{503, 1, 1}, {503, 3, 3}, {429, 6, 6}, {400, 5, 1}, {401, 5, 1}, {501, 5, 1}} {
		script := make([]int, 50)
		for i := range script {
			script[i] = tc.status
		}
		s := newServer(t, script...)
		s.body = strings.Repeat("é", 400) + "\xff" // longer than the excerpt, with invalid UTF-8
		tr := &http.Transport{}
		snd := transport.NewSender(&http.Client{Transport: tr}, fastPolicy(tc.attempts))
		status, excerpt, err := doBytes(context.Background(), snd, s.URL, nil, []byte("{}"))
		tr.CloseIdleConnections()
		if err != nil || status != tc.status {
			t.Errorf("%d with %d attempts: Do = %d, %v", tc.status, tc.attempts, status, err)
		}
		if n := len(s.requests()); n != tc.want {
			t.Errorf("%d with %d attempts: %d requests, want %d", tc.status, tc.attempts, n, tc.want)
		}
		// The sender keeps up to 4 KiB for the client to redact and then
		// cut to 512 bytes.
		if len(excerpt) > 4096 || !utf8.ValidString(excerpt) || excerpt == "" {
			t.Errorf("excerpt of %d bytes (valid UTF-8 %v)", len(excerpt), utf8.ValidString(excerpt))
		}
	}
}

// TestSenderNetworkError: a refused connection is retried until the
// attempts run out, and the error says what happened.
func TestSenderNetworkError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var n atomic.Int32
	snd := transport.NewSender(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, fastPolicy(4))
	retries := 0
	hooks := transport.Hooks{
		Attempt: func(int) { n.Add(1) },
		Retry: func(_ int, _ time.Duration, status int, err error) {
			retries++
			if status != 0 || err == nil {
				t.Errorf("Retry hook (status %d, err %v): want 0 and the network error", status, err)
			}
		},
	}
	status, _, err := doBytes(context.Background(), snd, "http://"+addr+"/v1/batch", nil, []byte("{}"), hooks)
	if err == nil || status != 0 {
		t.Fatalf("Do = %d, %v; want a network error", status, err)
	}
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Errorf("error %v does not wrap a *net.OpError", err)
	}
	if n.Load() != 4 || retries != 3 {
		t.Errorf("%d attempts and %d retries, want 4 and 3", n.Load(), retries)
	}
}

// TestSenderContextEndsDuringWait: a context that ends while the sender
// waits to retry stops it at once (on synctest's clock).
func TestSenderContextEndsDuringWait(t *testing.T) {
	s := newServer(t, 503, 503, 503)
	synctest.Test(t, func(t *testing.T) {
		tr := &http.Transport{DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		// The first backoff is at least 15s; the context ends at 10s.
		p := transport.Policy{MaxAttempts: 10, WaitMin: 30 * time.Second, WaitMax: time.Minute, MaxRetryAfter: time.Hour}
		snd := transport.NewSender(&http.Client{Transport: tr}, p)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		_, _, err := doBytes(ctx, snd, s.URL, nil, []byte("{}"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Do: %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d != 10*time.Second {
			t.Errorf("Do returned after %v, want exactly the 10s context", d)
		}
	})
	if n := len(s.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// TestSenderRetryAfterBeyondDeadline: a Retry-After that would end after
// the context's deadline is not waited for; the answer is returned at once.
func TestSenderRetryAfterBeyondDeadline(t *testing.T) {
	s := newServer(t, 503, 503, 503)
	s.header = http.Header{"Retry-After": {"30"}}
	synctest.Test(t, func(t *testing.T) {
		tr := &http.Transport{DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		p := transport.Policy{MaxAttempts: 10, WaitMin: time.Second, WaitMax: time.Minute, MaxRetryAfter: time.Hour}
		snd := transport.NewSender(&http.Client{Transport: tr}, p)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		status, _, err := doBytes(ctx, snd, s.URL, nil, []byte("{}"))
		if err != nil || status != 503 {
			t.Errorf("Do = %d, %v; want the 503 itself", status, err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("Do returned after %v, want at once", d)
		}
	})
	if n := len(s.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// doBytes sends body through snd as the client does: from a Body that the
// caller holds for the call and releases when it returns.
func doBytes(ctx context.Context, snd *transport.Sender, url string, header http.Header, body []byte, hooks ...transport.Hooks) (int, string, error) {
	b := transport.NewBody(nil)
	b.Buf = body
	b.Hold()
	defer b.Release()
	var h transport.Hooks
	if len(hooks) > 0 {
		h = hooks[0]
	}
	return snd.Do(ctx, url, header, b, h)
}
