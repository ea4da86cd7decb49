package analyticstest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// This file holds what the package's test files share: TestMain, the two
// fakes to run a test against (forEachFake), and the requests they send
// by hand.

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fake is a Server or a Transport with an http.Client that reaches it, so
// that most tests run against both.
type fake struct {
	*Recorder
	url    string
	client *http.Client
	close  func()
}

func newFakes(opts ...Option) map[string]func(t *testing.T) fake {
	return map[string]func(t *testing.T) fake{
		"Server": func(t *testing.T) fake {
			s := NewServer(t, opts...)
			return fake{Recorder: s.Recorder, url: s.URL, client: http.DefaultClient, close: s.Close}
		},
		"Transport": func(t *testing.T) fake {
			tr := NewTransport(t, opts...)
			return fake{Recorder: tr.Recorder, url: tr.URL, client: tr.Client(), close: tr.Close}
		},
	}
}

// forEachFake runs f as a subtest against a Server and against a Transport.
func forEachFake(t *testing.T, f func(t *testing.T, fk fake), opts ...Option) {
	for name, mk := range newFakes(opts...) {
		t.Run(name, func(t *testing.T) { f(t, mk(t)) })
	}
}

// track returns a valid track message with the given id.
func track(id, user, event string) map[string]any {
	return map[string]any{
		"type":       "track",
		"messageId":  id,
		"userId":     user,
		"event":      event,
		"timestamp":  "2026-01-02T03:04:05.123Z",
		"properties": map[string]any{"total": 30.5},
		"context":    map[string]any{"library": map[string]any{"name": "analytics-go", "version": "0.1.0"}},
	}
}

// batch encodes msgs as a batch body.
func batch(msgs ...map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"batch": msgs, "sentAt": "2026-01-02T03:04:05.000Z"})
	if err != nil {
		panic(err)
	}
	return b
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// call describes one request to send by hand.
type call struct {
	method, path string // default POST, /batch relative to the base URL
	key          string // default "key"; "-" sends no credentials
	password     string
	auth         string // if set, the Authorization header verbatim
	contentType  string // default application/json; "-" sends none
	encoding     string // Content-Encoding header, if any
	body         []byte
	ctx          context.Context
}

type result struct {
	status int
	header http.Header
	body   string
	err    error
}

func send(t *testing.T, fk fake, c call) result {
	t.Helper()
	if c.method == "" {
		c.method = http.MethodPost
	}
	if c.path == "" {
		c.path = "/batch"
	}
	if c.ctx == nil {
		c.ctx = context.Background()
	}
	req, err := http.NewRequestWithContext(c.ctx, c.method, fk.url+c.path, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case c.auth != "":
		req.Header.Set("Authorization", c.auth)
	case c.key == "":
		req.SetBasicAuth("key", c.password)
	case c.key == "-":
	default:
		req.SetBasicAuth(c.key, c.password)
	}
	// Strict mode, as this library's client sends it: the fake then
	// answers a batch holding a call the API refuses with 400.
	req.Header.Set("X-Strict-Mode", "1")
	switch c.contentType {
	case "":
		req.Header.Set("Content-Type", "application/json")
	case "-":
	default:
		req.Header.Set("Content-Type", c.contentType)
	}
	if c.encoding != "" {
		req.Header.Set("Content-Encoding", c.encoding)
	}
	resp, err := fk.client.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
}

func mustStatus(t *testing.T, r result, want int) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("request failed: %v", r.err)
	}
	if r.status != want {
		t.Fatalf("status %d (body %s), want %d", r.status, r.body, want)
	}
}

// kinds lists the kinds of vs.
func kinds(vs []Violation) []ViolationKind {
	var ks []ViolationKind
	for _, v := range vs {
		ks = append(ks, v.Kind)
	}
	return ks
}

// capturingTB is a testing.TB whose Errorf is captured instead of failing
// the test, to prove that the fake reports violations.
type capturingTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (c *capturingTB) Errorf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

func (c *capturingTB) errors() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.errs, "\n")
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
