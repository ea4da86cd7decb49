package transport

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// Body is a request body built in place by its owner and reused once
// nobody reads it any more.
//
// net/http may go on reading a request body after the response has come
// (a server that answers early, before it has read the request), on a
// goroutine of its own, and it closes the body when it is done. So a Body
// counts its holders: the owner (one reference from Hold to Release) and
// every reader that net/http or go-retryablehttp opened and has not
// closed. When the count falls to zero, and only then, the Body goes to
// the function given to NewBody, which may reuse Buf. A reader that is
// never closed (a RoundTripper that breaks the contract of
// http.RoundTripper) keeps its Body from being reused; the garbage
// collector frees it instead.
type Body struct {
	// Buf is the body. Its owner writes it before Hold and must not
	// touch it after Release.
	Buf []byte

	refs atomic.Int32
	free func(*Body)
}

// NewBody returns an empty Body that is handed to free once it is
// released and unread; free may be nil.
func NewBody(free func(*Body)) *Body { return &Body{free: free} }

// Hold takes the owner's reference, before the Body is sent.
func (b *Body) Hold() { b.refs.Add(1) }

// Release drops one reference: the owner's, after the request is done.
func (b *Body) Release() {
	if n := b.refs.Add(-1); n == 0 && b.free != nil {
		b.free(b)
	} else if n < 0 {
		panic("transport: Body released more often than held")
	}
}

// open returns a new reader of b, holding a reference until it is closed.
// It is the go-retryablehttp ReaderFunc of requests that send b.
func (b *Body) open() (io.Reader, error) {
	b.refs.Add(1)
	return &bodyReader{b: b}, nil
}

var errBodyClosed = errors.New("transport: read of a closed request body")

// bodyReader reads a Body. mu makes Read and Close exclusive, so that a
// Close racing with a Read (net/http may close a body from another
// goroutine than the one reading it) never lets the Body be reused while
// a Read copies from it.
type bodyReader struct {
	mu  sync.Mutex
	b   *Body // nil once closed
	off int
}

func (r *bodyReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.b == nil {
		return 0, errBodyClosed
	}
	if r.off >= len(r.b.Buf) {
		return 0, io.EOF
	}
	n := copy(p, r.b.Buf[r.off:])
	r.off += n
	return n, nil
}

// Len is what is left to read; go-retryablehttp takes the request's
// Content-Length from it.
func (r *bodyReader) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.b == nil {
		return 0
	}
	return len(r.b.Buf) - r.off
}

// Close releases the reader's reference. Closing twice is harmless.
func (r *bodyReader) Close() error {
	r.mu.Lock()
	b := r.b
	r.b = nil
	r.mu.Unlock()
	if b != nil {
		b.Release()
	}
	return nil
}
