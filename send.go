package analytics

import (
	"compress/gzip"
	"context"
	"fmt"
	"hash/crc32"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/cdpkit/analytics-go/internal/jsonw"
	"github.com/cdpkit/analytics-go/internal/transport"
)

// envelopeBytes is the size of a batch request body without its messages
// and the commas between them: {"batch":[ ],"sentAt":"…"}.
const envelopeBytes = len(batchHead) + batchEndBytes

// maxExcerpt is the most of an API answer an APIError keeps.
const maxExcerpt = 512

// sender sends batches to the API: it builds each request's body, sends it
// with its attempts under the retry policy, halves a batch the API refuses
// as invalid, and records each message's outcome in its batch for
// Client.report, by the rules of outcome.go.
//
// A client has one sender, shared by its WithMaxInFlight sender goroutines
// (startSenders), each of which sends one batch at a time. The sender
// holds no state of a batch or a request: a batch's state is the batch's,
// owned by the goroutine sending it, and a request's is its own call to
// transport.Sender.Do. What the goroutines share is read-only, but for the
// counters, which the batcher's lock guards (batcher.attempt), and
// authLogged, an atomic.
type sender struct {
	http         *transport.Sender
	url          string
	header       http.Header
	gzip         bool
	maxRetryTime time.Duration
	now          func() time.Time // the time of sentAt
	logger       *slog.Logger
	b            *batcher // counts the attempts
	// ctx is the client's delivery context, canceled with a cause when
	// Shutdown's context ends: every request in flight is abandoned.
	ctx context.Context
	// secrets are the API key and the credentials of the Authorization
	// header, which redact removes from what the API sends back.
	secrets []string

	// batchEnd is appendBatchEnd, the Tail of every request body without
	// gzip, made once rather than per request.
	batchEnd func(dst []byte) []byte

	authLogged atomic.Bool // a 401 or 403 has been logged with its hint
}

// newSender returns the client's sender, which sends with hc.
func (c *Client) newSender(hc *http.Client) *sender {
	r := c.cfg.retry
	policy := transport.Policy{MaxAttempts: r.MaxAttempts, WaitMin: r.WaitMin, WaitMax: r.WaitMax, MaxRetryAfter: r.MaxRetryAfter}
	s := &sender{
		http:         transport.NewSender(hc, policy),
		url:          c.url,
		header:       c.header,
		gzip:         c.cfg.gzip,
		maxRetryTime: r.MaxTime,
		now:          c.cfg.now,
		logger:       c.logger,
		b:            c.b,
		ctx:          c.deliveryCtx,
		secrets:      []string{c.apiKey, strings.TrimPrefix(c.header.Get("Authorization"), "Basic ")},
	}
	s.batchEnd = s.appendBatchEnd
	return s
}

// startSenders starts cfg.maxInFlight sender goroutines. Each takes
// batches from the batcher's out channel until it is closed, sends them
// one at a time, and reports their outcome. The returned function waits
// for them to return.
func (c *Client) startSenders() (wait func()) {
	hc, own := c.httpClient()
	s := c.newSender(hc)
	var wg sync.WaitGroup
	for range c.cfg.maxInFlight {
		wg.Go(func() {
			for bt := range c.b.out {
				if c.settledUnsent(bt) {
					continue
				}
				s.send(bt)
				c.report(bt)
			}
		})
	}
	return func() {
		wg.Wait()
		if own != nil {
			own.CloseIdleConnections()
		}
	}
}

// httpClient returns the *http.Client the senders use: a copy of the
// caller's, or one of the client's own, whose transport it returns too.
func (c *Client) httpClient() (hc *http.Client, own *http.Transport) {
	if c.cfg.httpClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = c.cfg.maxInFlight
		return &http.Client{Transport: tr, Timeout: c.cfg.requestTimeout, CheckRedirect: noRedirects}, tr
	}
	copied := *c.cfg.httpClient
	if copied.Timeout == 0 || copied.Timeout > c.cfg.requestTimeout {
		copied.Timeout = c.cfg.requestTimeout
	}
	if copied.CheckRedirect == nil {
		copied.CheckRedirect = noRedirects
	}
	rt := copied.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	// go-retryablehttp closes idle connections after a failure; keep it
	// from doing so on a transport the caller may share.
	copied.Transport = roundTripperOnly{rt}
	return &copied, nil
}

// noRedirects makes a redirect the answer to the request. The API does
// not redirect, and net/http would follow a 301, 302 or 303 with a GET
// without the batch, which the new location may answer 200: the batch
// would count as delivered and be lost. As an answer the redirect is
// reported with its status instead.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// roundTripperOnly hides every method of a RoundTripper but RoundTrip
// (CloseIdleConnections in particular).
type roundTripperOnly struct{ rt http.RoundTripper }

func (r roundTripperOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	return r.rt.RoundTrip(req)
}

// send sends bt and records each message's outcome in it. One retry
// deadline (WithMaxRetryTime) covers the batch, its halves included.
func (s *sender) send(bt *batch) {
	ctx, cancel := context.WithTimeout(s.ctx, s.maxRetryTime)
	s.sendRange(ctx, bt, 0, len(bt.items), false)
	cancel()
}

// sendRange sends bt.items[lo:hi] and records their outcome in bt; half
// reports a part of a batch the API refused.
//
// Poison isolation: when the API refuses a request of more than one
// message as invalid (400, 413 or 422), the range is split in halves and
// each is sent on its own, recursively, with the same message bytes. Only
// the messages the API refuses on their own are lost, and a batch of n
// messages costs at most 2n-1 requests (a binary tree with n leaves),
// retries of answers that are retried aside. A 401 or 403 is about the
// key, not the messages: it fails the whole range. judge (outcome.go) has
// the rules.
func (s *sender) sendRange(ctx context.Context, bt *batch, lo, hi int, half bool) {
	if ctx.Err() != nil && half {
		bt.fail(lo, hi, s.failure(ctx.Err()))
		return
	}
	body, wireLen := s.body(bt, lo, hi)
	status, excerpt, err := s.http.Do(ctx, s.url, s.header, body, transport.Hooks{
		Attempt: func(attempt int) { s.b.attempt(attempt, wireLen, half) },
		Retry:   s.logRetry,
	})
	if !body.Release() && !s.gzip {
		// A reader of the body is still open (an API that answered
		// before it had read the body): net/http may still read the
		// batch's buffer, which the queue must then not reuse.
		bt.bufRead = true
	}
	switch judge(status, err, hi-lo) {
	case accepted:
		s.logger.Debug("analytics: batch delivered", "messages", hi-lo, "bytes", wireLen)
	case bisect:
		mid := lo + (hi-lo)/2
		s.logger.Debug("analytics: batch refused; sending its halves to isolate the invalid messages",
			"status", status, "messages", hi-lo)
		s.sendRange(ctx, bt, lo, mid, true)
		s.sendRange(ctx, bt, mid, hi, true)
	case unanswered:
		bt.fail(lo, hi, s.failure(err))
	case refusedKey:
		s.authFailed(status)
		fallthrough
	case refused:
		bt.fail(lo, hi, &APIError{StatusCode: status, Body: s.redact(excerpt), Retryable: transport.Retryable(status)})
	}
}

// logRetry logs a failed attempt that will be retried (transport.Hooks).
func (s *sender) logRetry(attempt int, wait time.Duration, status int, err error) {
	attrs := []any{"attempt", attempt + 1, "wait", wait}
	if status != 0 {
		attrs = append(attrs, "status", status)
	}
	if err != nil {
		attrs = append(attrs, "error", err)
	}
	s.logger.Warn("analytics: batch request failed; retrying", attrs...)
}

// failure is the error of messages whose request got no answer: err, or
// abandoned if Shutdown's context has ended.
func (s *sender) failure(err error) error {
	if s.ctx.Err() != nil {
		return abandonedError(s.ctx)
	}
	return fmt.Errorf("analytics: batch request failed: %w", err)
}

// authFailed logs the first answer that refuses the API key, once, with a
// hint; later ones are logged at Debug with the batch (see report).
func (s *sender) authFailed(status int) {
	if s.authLogged.Swap(true) {
		return
	}
	s.logger.Error("analytics: the API refused the API key; no message will be delivered until it is fixed",
		"status", status,
		"hint", "check the key, and that the client's region (WithRegion) is the region of the workspace it belongs to")
}

// gzipPool holds gzip writers. They compress at BestSpeed, which costs
// much less CPU than the default level for somewhat larger requests
// (BENCHMARKS.md has the figures).
var gzipPool = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

// body returns the request body of bt.items[lo:hi] and its length on the
// wire, held by the caller, who releases it once its request is done. The
// message bytes are the ones Enqueue encoded, so a half of a refused batch
// carries the same JSON.
//
// Without gzip nothing is copied: the body lends the messages where they
// are, in the batch's buffer (batch.messages; batch.keep wrote the commas
// between them there), between a constant head and the end written per
// attempt. net/http may still read a request body after the response has
// come (an API that answers early, a 4xx before it has read the body), on
// a goroutine of its own, until it closes the body; so when Release
// reports a reader still open, sendRange marks the batch (bufRead) and the
// queue lets go of its buffer instead of reusing it (batchQueue.recycle).
// The Body itself goes back to its pool, without the buffer, once the last
// reader is closed (putLentBody). With gzip the batch's buffer is only
// read here, and what net/http reads is the compressed copy.
//
// sentAt is the time of each attempt, not of the batch's first one: the
// API corrects clock skew with it, and a batch retried after a minute's
// Retry-After would otherwise have every event moved by that minute. So
// the body's Tail writes the end, `],"sentAt":` and the time, anew for
// every attempt (go-retryablehttp opens a reader of the body per attempt).
// With gzip, the body's Buf is the compressed start, up to the value of
// sentAt, flushed to a byte boundary, in a pooled buffer, and the Tail adds
// the time as a stored final block and the gzip trailer
// (transport.AppendGzipEnd): nothing is compressed twice and the messages'
// bytes are those of the first attempt.
func (s *sender) body(bt *batch, lo, hi int) (*transport.Body, int64) {
	msgs := bt.messages(lo, hi)
	if !s.gzip {
		bd := getLentBody()
		bd.Head, bd.Buf, bd.Tail = batchHead, msgs, s.batchEnd
		bd.Hold()
		return bd, int64(len(batchHead) + len(msgs) + batchEndBytes)
	}
	bd := getBody()
	bd.Hold()
	w := appendWriter{buf: bd.Buf[:0]}
	zw := gzipPool.Get().(*gzip.Writer)
	zw.Reset(&w)
	_, _ = zw.Write(batchHeadBytes)
	_, _ = zw.Write(msgs)
	_, _ = zw.Write(sentAtKeyBytes)
	_ = zw.Flush()
	zw.Reset(nil)
	gzipPool.Put(zw)
	bd.Buf = w.buf
	crc := crc32.Update(crc32.Update(crc32.ChecksumIEEE(batchHeadBytes), crc32.IEEETable, msgs), crc32.IEEETable, sentAtKeyBytes)
	n := len(batchHeadBytes) + len(msgs) + len(sentAtKeyBytes)
	bd.Tail = func(dst []byte) []byte {
		var tail [sentAtBytes]byte
		return transport.AppendGzipEnd(dst, crc, n, s.appendSentAt(tail[:0]))
	}
	return bd, int64(len(bd.Buf) + transport.GzipEndBytes + sentAtBytes)
}

// batchHead begins every batch request body, and sentAtKey follows its
// messages.
const (
	batchHead = `{"batch":[`
	sentAtKey = `],"sentAt":`
)

var batchHeadBytes, sentAtKeyBytes = []byte(batchHead), []byte(sentAtKey)

// appendBatchEnd appends the end of a batch request body after its
// messages: the key of sentAt, the time now and the closing brace; always
// batchEndBytes bytes.
func (s *sender) appendBatchEnd(dst []byte) []byte {
	return s.appendSentAt(append(dst, sentAtKey...))
}

// batchEndBytes is the length of what appendBatchEnd appends.
const batchEndBytes = len(sentAtKey) + sentAtBytes

// appendSentAt appends the end of a batch request body: the time now, the
// value of sentAt, and the closing brace; always sentAtBytes bytes.
func (s *sender) appendSentAt(dst []byte) []byte {
	dst = jsonw.AppendTime(dst, s.now())
	return append(dst, '}')
}

// sentAtBytes is the length of what appendSentAt appends: a quoted
// RFC 3339 time with milliseconds in UTC, and a brace.
const sentAtBytes = len(`"2006-01-02T15:04:05.000Z"}`)

// maxPooledBody is the largest buffer the body pools keep: a full batch
// request with room to spare.
const maxPooledBody = 2 * MaxBatchBytes

// bodyPool holds request bodies that nobody reads any more (putBody),
// with their buffers (gzip), and lentPool those whose buffer was lent
// (putLentBody), without it.
var bodyPool, lentPool sync.Pool // *transport.Body

func getBody() *transport.Body {
	if bd, ok := bodyPool.Get().(*transport.Body); ok {
		return bd
	}
	return transport.NewBody(putBody)
}

// putBody is called by a transport.Body once it is released and unread.
func putBody(bd *transport.Body) {
	if cap(bd.Buf) > maxPooledBody {
		return
	}
	bd.Buf = bd.Buf[:0]
	bd.Tail = nil
	bodyPool.Put(bd)
}

func getLentBody() *transport.Body {
	if bd, ok := lentPool.Get().(*transport.Body); ok {
		return bd
	}
	return transport.NewBody(putLentBody)
}

// putLentBody is putBody for a body whose Buf is a batch's buffer, which
// it lets go of.
func putLentBody(bd *transport.Body) {
	bd.Head, bd.Buf, bd.Tail = "", nil, nil
	lentPool.Put(bd)
}

// appendWriter is an io.Writer appending to buf.
type appendWriter struct{ buf []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// redact removes the API key, and the Authorization value made from it, from
// text the API sent back, so that it cannot reach an error or a log line.
func (s *sender) redact(text string) string {
	if text == "" {
		return text
	}
	for _, secret := range s.secrets {
		if secret != "" {
			text = strings.ReplaceAll(text, secret, "[redacted]")
		}
	}
	// Cut to 512 bytes only now, so that a key at the edge is not left in
	// part; back off to a rune boundary.
	if len(text) > maxExcerpt {
		n := maxExcerpt
		for n > 0 && !utf8.RuneStart(text[n]) {
			n--
		}
		text = text[:n]
	}
	return text
}
