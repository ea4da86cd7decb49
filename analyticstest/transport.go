package analyticstest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"testing"
)

var (
	errClosed           = errors.New("analyticstest: the fake was closed (did the test end?)")
	errConnectionClosed = fmt.Errorf("analyticstest: connection closed by a scripted response: %w", io.EOF)
	errConnectionReset  = fmt.Errorf("analyticstest: connection reset by a scripted response: %w", syscall.ECONNRESET)
)

// connectionRefused returns the error of a dial to req's host that nothing
// listens on, as net/http's transport returns it: a *net.OpError wrapping
// syscall.ECONNREFUSED.
func connectionRefused(req *http.Request) error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: hostAddr(req.URL.Host),
		Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
}

// hostAddr is a net.Addr that prints as host, for error messages.
type hostAddr string

func (a hostAddr) Network() string { return "tcp" }
func (a hostAddr) String() string  { return string(a) }

// Transport is a fake Data Pipelines API that works without a socket: an
// http.RoundTripper that answers every request itself, whatever its host,
// exactly as a Server would. Use it with Client, or set it as the
// Transport of an http.Client of your own.
type Transport struct {
	// Recorder holds what the transport received and scripts its answers.
	*Recorder

	// URL is an API base to pass as the client's endpoint, together with
	// Client() as its HTTP client:
	//
	//	analytics.New(key, analytics.WithEndpoint(tr.URL), analytics.WithHTTPClient(tr.Client()))
	//
	// Its host is never contacted; any host works as long as the path is
	// right. It is https, so that the client does not refuse it as a
	// plain-http endpoint on a non-loopback host.
	URL string
}

// NewTransport returns a fake Data Pipelines API that answers through
// RoundTrip, and registers Close with t.Cleanup. Requests that break the
// wire protocol fail the test through t.Errorf (see WithViolationsAllowed).
// t may be nil outside tests; then violations are only recorded.
func NewTransport(t testing.TB, opts ...Option) *Transport {
	tr := &Transport{Recorder: newRecorder(t, opts), URL: "https://analyticstest.invalid/v1"}
	if t != nil {
		t.Cleanup(tr.Close)
	}
	return tr
}

// Client returns a new http.Client that sends every request to tr.
func (tr *Transport) Client() *http.Client {
	return &http.Client{Transport: tr}
}

// Close abandons answers being delayed, waits for the round trips in
// progress, and makes later round trips fail. It is safe to call more than
// once.
func (tr *Transport) Close() {
	tr.Recorder.close()
}

// RoundTrip implements http.RoundTripper. It returns an error, as a real
// transport would, when the request's context ends while the answer is
// delayed, when a scripted response closes, resets or refuses the
// connection, and after Close.
func (tr *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	a := tr.handle(req)
	if a.hangUp {
		return nil, a.err
	}
	return &http.Response{
		Status:        strconv.Itoa(a.status) + " " + http.StatusText(a.status),
		StatusCode:    a.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        a.header,
		Body:          io.NopCloser(bytes.NewReader(a.body)),
		ContentLength: int64(len(a.body)),
		Request:       req,
	}, nil
}
