package analyticstest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Server is a fake Data Pipelines API listening on a loopback address.
// Point a client at URL, run the code under test, then check what the
// embedded Recorder received.
type Server struct {
	// Recorder holds what the server received and scripts its answers.
	*Recorder

	// URL is the API base, such as "http://127.0.0.1:41234/v1", to pass
	// as the client's endpoint; batches go to URL + "/batch".
	URL string

	srv       *httptest.Server
	closeOnce sync.Once
}

// NewServer starts a fake Data Pipelines API on a loopback address and
// registers Close with t.Cleanup. Requests that break the wire protocol
// fail the test through t.Errorf (see WithViolationsAllowed).
//
// t may be nil outside tests, for example in an Example: then the caller
// must call Close, and violations are only recorded.
func NewServer(t testing.TB, opts ...Option) *Server {
	s := &Server{Recorder: newRecorder(t, opts)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.srv.URL + "/v1"
	if t != nil {
		t.Cleanup(s.Close)
	}
	return s
}

// Close shuts the server down: answers being delayed are abandoned, and
// Close waits for the requests being handled. It is safe to call more than
// once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.Recorder.close()
		s.srv.Close()
	})
}

func (s *Server) serveHTTP(w http.ResponseWriter, req *http.Request) {
	a := s.handle(req)
	if a.hangUp {
		hangUp(w, a.reset)
		return
	}
	for k, v := range a.header {
		w.Header()[k] = v
	}
	w.WriteHeader(a.status)
	w.Write(a.body)
}

// hangUp closes the connection without writing a response, with a TCP
// reset if reset is set.
func hangUp(w http.ResponseWriter, reset bool) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok && reset {
				_ = tc.SetLinger(0)
			}
			conn.Close()
			return
		}
	}
	// The server closes the connection of a handler that panics with
	// ErrAbortHandler, without logging.
	panic(http.ErrAbortHandler)
}
