package transport

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
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
//
// Buf may also be a buffer the owner lends rather than one of the Body's
// own: Release reports whether the Body was unread then; if it was not,
// a reader is still open and may read Buf until net/http closes it, so
// the owner must not write into Buf again, and the free function, which
// runs when that reader is closed, must let go of it.
//
// A body may start with a constant part (Head) and end with a part written
// anew for every reader, that is for every attempt of the request (Tail):
// the time the request is sent. Buf itself is only read once it is held,
// so a half-read Buf is never rewritten under a reader.
type Body struct {
	// Head, if set, is read first: a constant start, such as
	// `{"batch":[`, that need not be copied into Buf.
	Head string
	// Buf is the body, or its part after Head and before Tail. Its owner
	// writes it before Hold, and again only once the Body is unread: after
	// a Release that reported true, or in the free function.
	Buf []byte
	// Tail, if not nil, appends the end of the body to dst: it is called
	// once per reader, when the reader is opened (go-retryablehttp opens
	// one per attempt, just before the attempt), from the goroutine that
	// sends the request. It must append the same number of bytes every
	// time, at most MaxTail, since the request's Content-Length is taken
	// once, from the first reader.
	Tail func(dst []byte) []byte

	refs atomic.Int32
	free func(*Body)
}

// NewBody returns an empty Body that is handed to free once it is
// released and unread; free may be nil.
func NewBody(free func(*Body)) *Body { return &Body{free: free} }

// Hold takes the owner's reference, before the Body is sent.
func (b *Body) Hold() { b.refs.Add(1) }

// Release drops one reference: the owner's, after the request is done. It
// reports whether the Body was unread then, and so handed to its free
// function; false means that a reader net/http opened is still open and
// may read Buf until it is closed, after which the free function runs on
// the goroutine that closes it.
func (b *Body) Release() bool {
	n := b.refs.Add(-1)
	if n < 0 {
		panic("transport: Body released more often than held")
	}
	if n == 0 && b.free != nil {
		b.free(b)
	}
	return n == 0
}

// MaxTail is the most bytes a Body's Tail may append.
const MaxTail = 64

// open returns a new reader of b, holding a reference until it is closed,
// with its own Tail. It is the go-retryablehttp ReaderFunc of requests
// that send b.
func (b *Body) open() (io.Reader, error) {
	b.refs.Add(1)
	r := &bodyReader{b: b}
	if b.Tail != nil {
		r.tail = b.Tail(r.tailBuf[:0])
	}
	return r, nil
}

var errBodyClosed = errors.New("transport: read of a closed request body")

// bodyReader reads a Body. mu makes Read and Close exclusive, so that a
// Close racing with a Read (net/http may close a body from another
// goroutine than the one reading it) never lets the Body be reused while
// a Read copies from it.
type bodyReader struct {
	mu  sync.Mutex
	b   *Body // nil once closed
	off int   // bytes read, of Head, then of Buf, then of tail

	tail    []byte // this reader's end of the body (Body.Tail)
	tailBuf [MaxTail]byte
}

func (r *bodyReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.b == nil {
		return 0, errBodyClosed
	}
	head, buf := r.b.Head, r.b.Buf
	if r.off >= len(head)+len(buf)+len(r.tail) {
		return 0, io.EOF
	}
	n := 0
	if r.off < len(head) {
		n = copy(p, head[r.off:])
	}
	if at := r.off + n - len(head); at >= 0 && at < len(buf) {
		n += copy(p[n:], buf[at:])
	}
	if at := r.off + n - len(head) - len(buf); at >= 0 {
		n += copy(p[n:], r.tail[at:])
	}
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
	return len(r.b.Head) + len(r.b.Buf) + len(r.tail) - r.off
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

// GzipEndBytes is what AppendGzipEnd appends besides the tail: the stored
// block's header and the gzip trailer.
const GzipEndBytes = 5 + 8

// AppendGzipEnd ends a gzip stream whose compressed data so far is
// byte-aligned (a deflate sync flush, as gzip.Writer.Flush writes, and no
// final block): it appends tail as the final, stored (uncompressed)
// deflate block, then the gzip trailer. crc and size are the CRC-32 (IEEE)
// and the length of the uncompressed data before tail. It lets the end of
// a compressed body change from attempt to attempt without compressing
// the rest again. It appends len(tail)+GzipEndBytes bytes; tail must be
// shorter than 64 KiB.
func AppendGzipEnd(dst []byte, crc uint32, size int, tail []byte) []byte {
	// A stored block: BFINAL=1, BTYPE=00, padded to the byte boundary,
	// then LEN and its ones' complement, little-endian (RFC 1951, 3.2.4).
	n := uint16(len(tail))
	dst = append(dst, 1)
	dst = binary.LittleEndian.AppendUint16(dst, n)
	dst = binary.LittleEndian.AppendUint16(dst, ^n)
	dst = append(dst, tail...)
	// The trailer: CRC-32 and size mod 2^32 of all the uncompressed data
	// (RFC 1952, 2.3.1).
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Update(crc, crc32.IEEETable, tail))
	return binary.LittleEndian.AppendUint32(dst, uint32(size+len(tail)))
}
