package benchmarks

import (
	"compress/gzip"
	"encoding/binary"
	"io"
	"log"
	"math/bits"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"
)

// sink is the loopback server every benchmark sends to. It accepts POSTs on
// any path, reads and discards the body (gunzipping it when the request says
// Content-Encoding: gzip) and counts requests, events, JSON bytes and wire
// bytes. Events are the elements of the top-level "batch" array, which both
// Segment's {"batch":[...],...} and PostHog's {"api_key":...,"batch":[...]}
// use (and ours); batchCounter counts them exactly while streaming, without
// decoding. A stalled sink holds every request until Release.
//
// It answers 200 with an empty body (Content-Length: 0). An answer with a
// body ("{}", as the first version of this sink sent) makes net/http close
// the connection of a client that closes the answer unread, as Segment v3
// and posthog-go do: they opened one connection per request, and paid a TCP
// handshake per batch that no real deployment behind a keep-alive load
// balancer would. conns counts the connections accepted, so that a table
// can show that every client reuses its connections.
type sink struct {
	srv *httptest.Server

	requests  atomic.Int64 // requests fully read and answered 200
	events    atomic.Int64 // batch elements in those requests
	jsonBytes atomic.Int64 // body bytes after decompression
	wireBytes atomic.Int64 // body bytes as received
	bad       atomic.Int64 // requests that were not a JSON object with a batch array
	conns     atomic.Int64 // connections accepted

	gate atomic.Pointer[chan struct{}] // non-nil while stalled
}

type sinkStats struct {
	Requests, Events, JSONBytes, WireBytes, Bad, Conns int64
}

// newSink starts a sink on a loopback port; Close stops it.
func newSink() *sink {
	s := &sink{}
	s.srv = httptest.NewUnstartedServer(s)
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.srv.Start()
	return s
}

// Close releases held requests and stops the server.
func (s *sink) Close() {
	s.Release()
	s.srv.Close()
}

// URL is the server's base URL, without a trailing slash.
func (s *sink) URL() string { return s.srv.URL }

// Stall makes the sink hold every request, new or already waiting, until
// Release. A held request whose client gives up is not counted.
func (s *sink) Stall() {
	ch := make(chan struct{})
	s.gate.Store(&ch)
}

// Release lets held requests through and stops stalling.
func (s *sink) Release() {
	if ch := s.gate.Swap(nil); ch != nil {
		close(*ch)
	}
}

// WaitEvents waits until the sink has counted want events, or no event has
// arrived for quiet, or max has passed; it returns the count.
func (s *sink) WaitEvents(want int64, quiet, max time.Duration) int64 {
	deadline := time.Now().Add(max)
	last, lastChange := s.events.Load(), time.Now()
	for {
		n := s.events.Load()
		now := time.Now()
		if n != last {
			last, lastChange = n, now
		}
		if n >= want || now.Sub(lastChange) > quiet || now.After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Reset zeroes the counters.
func (s *sink) Reset() {
	s.requests.Store(0)
	s.events.Store(0)
	s.jsonBytes.Store(0)
	s.wireBytes.Store(0)
	s.bad.Store(0)
	s.conns.Store(0)
}

func (s *sink) Stats() sinkStats {
	return sinkStats{
		Requests:  s.requests.Load(),
		Events:    s.events.Load(),
		JSONBytes: s.jsonBytes.Load(),
		WireBytes: s.wireBytes.Load(),
		Bad:       s.bad.Load(),
		Conns:     s.conns.Load(),
	}
}

var (
	readBufs  = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
	gzReaders sync.Pool // *gzip.Reader
)

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	wire := countingReader{r: r.Body}
	var body io.Reader = &wire
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, _ := gzReaders.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(&wire)
		} else {
			err = zr.Reset(&wire)
		}
		if err != nil {
			s.bad.Add(1)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		defer gzReaders.Put(zr)
		body = zr
	}

	bp := readBufs.Get().(*[]byte)
	var bc batchCounter
	var n int64
	var err error
	for err == nil {
		var k int
		k, err = body.Read(*bp)
		bc.Write((*bp)[:k])
		n += int64(k)
	}
	readBufs.Put(bp)
	if err != io.EOF {
		return // the client went away: count nothing
	}
	if !bc.Valid() {
		s.bad.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		return
	}

	// Hold the request only now: once the body is read, net/http watches
	// the connection and cancels the context if the client gives up (on a
	// timeout, say), and such a request must not be counted, since the
	// client will send it again.
	if ch := s.gate.Load(); ch != nil {
		select {
		case <-*ch:
		case <-r.Context().Done():
			return
		}
	}
	if r.Context().Err() != nil {
		return
	}
	s.events.Add(bc.Events)
	s.jsonBytes.Add(n)
	s.wireBytes.Add(wire.n)
	s.requests.Add(1)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// batchCounter counts the elements of the array under the top-level key
// "batch" of a JSON object fed to it in chunks of any size. It tracks only
// nesting depth, strings (with escapes) and the keys of the top-level object;
// it does not validate the JSON beyond balanced nesting.
type batchCounter struct {
	Events int64

	depth     int
	inString  bool
	escaped   bool
	expectKey bool // at depth 1, the next string is a key
	inKey     bool // the current string is a key of the top-level object
	keyLen    int
	key       [len("batch")]byte
	keyBatch  bool // the last top-level key was "batch"
	inBatch   bool // inside the batch array
	needElem  bool // in the batch array, before an element
	found     bool // a batch array was closed
	broken    bool // unbalanced nesting
}

// Valid reports whether the input was one balanced JSON object holding a
// "batch" array.
func (c *batchCounter) Valid() bool {
	return c.found && !c.broken && c.depth == 0 && !c.inString
}

func (c *batchCounter) Write(p []byte) {
	for i := 0; i < len(p); {
		if c.inString {
			if c.escaped {
				c.escaped = false
				c.keyByte(p[i])
				i++
				continue
			}
			if !c.inKey {
				// Skip to the closing quote or the next escape.
				j := i + quoteOrBackslash(p[i:])
				if j == len(p) {
					return
				}
				if p[j] == '\\' {
					c.escaped = true
				} else {
					c.inString = false
				}
				i = j + 1
				continue
			}
			switch ch := p[i]; ch {
			case '\\':
				c.escaped = true
				c.keyByte(ch)
			case '"':
				c.inString, c.inKey = false, false
				c.keyBatch = c.keyLen == len(c.key) && string(c.key[:]) == "batch"
			default:
				c.keyByte(ch)
			}
			i++
			continue
		}

		if !c.needElem {
			// Numbers, literals, colons and white space change nothing.
			for i < len(p) && inert[p[i]] {
				i++
			}
			if i == len(p) {
				return
			}
		}
		ch := p[i]
		i++
		switch ch {
		case ' ', '\t', '\n', '\r':
			continue
		}
		if c.needElem && ch != ']' {
			c.Events++
			c.needElem = false
		}
		switch ch {
		case '"':
			c.inString = true
			if c.depth == 1 && c.expectKey {
				c.inKey, c.expectKey, c.keyLen = true, false, 0
			}
		case '{':
			c.depth++
			if c.depth == 1 {
				c.expectKey = true
			}
		case '[':
			if c.depth == 1 && c.keyBatch && !c.found {
				c.inBatch, c.needElem = true, true
			}
			c.depth++
		case '}', ']':
			c.depth--
			if c.depth < 0 {
				c.broken = true
				c.depth = 0
			}
			if c.inBatch && c.depth == 1 {
				c.inBatch, c.needElem, c.found = false, false, true
			}
		case ',':
			switch {
			case c.depth == 1:
				c.expectKey = true
			case c.inBatch && c.depth == 2:
				c.needElem = true
			}
		}
	}
}

// inert[b] is true for the bytes outside strings that matter to
// batchCounter only as the first byte of a batch element.
var inert = func() (t [256]bool) {
	for i := range t {
		t[i] = true
	}
	for _, b := range []byte(`"{}[],`) {
		t[b] = false
	}
	return t
}()

// quoteOrBackslash returns the index of the first '"' or '\\' in p, or
// len(p): 8 bytes at a time, then one at a time.
func quoteOrBackslash(p []byte) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(p); i += 8 {
		x := binary.LittleEndian.Uint64(p[i:])
		q, b := x^lo*'"', x^lo*'\\'
		if m := ((q-lo)&^q | (b-lo)&^b) & hi; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(p); i++ {
		if p[i] == '"' || p[i] == '\\' {
			break
		}
	}
	return i
}

func (c *batchCounter) keyByte(ch byte) {
	if !c.inKey {
		return
	}
	if c.keyLen < len(c.key) {
		c.key[c.keyLen] = ch
	}
	c.keyLen++
}
