package analytics

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cdpkit/analytics-go/internal/jsonw"
	"github.com/cdpkit/analytics-go/internal/transport"
)

// envelopeBytes is the size of a batch request body without its messages
// and the commas between them: {"batch":[ ],"sentAt":"…"}.
const envelopeBytes = len(`{"batch":[`) + len(`],"sentAt":"2006-01-02T15:04:05.000Z"}`)

// maxExcerpt is the most of an API answer an APIError keeps.
const maxExcerpt = 512

// startSenders starts cfg.maxInFlight sender goroutines. Each takes
// batches from the batcher's out channel until it is closed, sends them
// one at a time, and reports their outcome. The returned function waits
// for them to return.
func (c *Client) startSenders(hc *http.Client) (wait func()) {
	policy := transport.Policy{
		MaxAttempts:   c.cfg.maxAttempts,
		WaitMin:       c.cfg.retryWaitMin,
		WaitMax:       c.cfg.retryWaitMax,
		MaxRetryAfter: c.cfg.maxRetryAfter,
	}
	var wg sync.WaitGroup
	for range c.cfg.maxInFlight {
		s := c.newSender(hc, policy)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for bt := range c.b.out {
				c.deliver(s, bt)
			}
		}()
	}
	return func() {
		wg.Wait()
		if c.transport != nil {
			c.transport.CloseIdleConnections()
		}
	}
}

// httpClient returns the *http.Client the senders use: a copy of the
// caller's, or one of the client's own.
func (c *Client) httpClient() *http.Client {
	if c.cfg.httpClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = c.cfg.maxInFlight
		c.transport = tr
		return &http.Client{Transport: tr, Timeout: c.cfg.requestTimeout, CheckRedirect: noRedirects}
	}
	hc := *c.cfg.httpClient
	if hc.Timeout == 0 || hc.Timeout > c.cfg.requestTimeout {
		hc.Timeout = c.cfg.requestTimeout
	}
	if hc.CheckRedirect == nil {
		hc.CheckRedirect = noRedirects
	}
	rt := hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	// go-retryablehttp closes idle connections after a failure; keep it
	// from doing so on a transport the caller may share.
	hc.Transport = roundTripperOnly{rt}
	return &hc
}

// noRedirects makes a redirect the answer to the request. The API does
// not redirect, and net/http would follow a 301, 302 or 303 with a GET
// without the batch, which the new location may answer 200: the batch
// would count as delivered and be lost. As an answer the redirect is
// reported with its status instead.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

type roundTripperOnly struct{ rt http.RoundTripper }

func (r roundTripperOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	return r.rt.RoundTrip(req)
}

func (c *Client) newSender(hc *http.Client, p transport.Policy) *transport.Sender {
	s := transport.NewSender(hc, p)
	s.OnRetry = func(attempt int, wait time.Duration, status int, err error) {
		attrs := []any{"attempt", attempt + 1, "wait", wait}
		if status != 0 {
			attrs = append(attrs, "status", status)
		}
		if err != nil {
			attrs = append(attrs, "error", err)
		}
		c.logger.Warn("analytics: batch request failed; retrying", attrs...)
	}
	return s
}

func (c *Client) abandoned() error {
	return fmt.Errorf("analytics: abandoned when Shutdown's context ended: %w", context.Cause(c.deliveryCtx))
}

// gzipPool holds gzip writers. They compress at BestSpeed, which costs
// much less CPU than the default level for somewhat larger requests
// (BENCHMARKS.md has the figures).
var gzipPool = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

// deliver sends one batch and reports its outcome. It runs on a sender
// goroutine, which owns s.
func (c *Client) deliver(s *transport.Sender, bt *batch) {
	if bt.lost != nil {
		bt.fail(0, len(bt.items), bt.lost)
		c.report(bt)
		return
	}
	if c.deliveryCtx.Err() != nil {
		c.abandonBatch(bt)
		return
	}
	// One retry deadline for the batch, its halves included.
	ctx, cancel := context.WithTimeout(c.deliveryCtx, c.cfg.maxRetryTime)
	c.sendRange(ctx, s, bt, 0, len(bt.items), false)
	cancel()
	c.report(bt)
}

// abandonBatch reports bt as abandoned by Shutdown.
func (c *Client) abandonBatch(bt *batch) {
	// Placeholders of messages the spool lost already are lost, not
	// abandoned: they are not kept for the next client.
	cause := bt.lost
	if cause == nil {
		cause = c.abandoned()
	}
	bt.fail(0, len(bt.items), cause)
	c.report(bt)
}

// sendRange sends bt.items[lo:hi] and records their outcome in bt.
//
// Poison isolation: when the API refuses a request of more than one
// message as invalid (400, 413 or 422), the range is split in halves and
// each is sent on its own, recursively, with the same message bytes. Only
// the messages the API refuses on their own are lost, and a batch of n
// messages costs at most 2n-1 requests (a binary tree with n leaves),
// retries of answers that are retried aside. A 401 or 403 is about the
// key, not the messages: it fails the whole range.
func (c *Client) sendRange(ctx context.Context, s *transport.Sender, bt *batch, lo, hi int, half bool) {
	if ctx.Err() != nil && half {
		bt.fail(lo, hi, c.sendError(ctx.Err()))
		return
	}
	wire := c.body(bt.items[lo:hi])
	wireLen := int64(len(wire.Buf))
	s.OnAttempt = func(attempt int) { c.b.attempt(attempt, wireLen, half) }
	status, excerpt, err := s.DoBody(ctx, c.url, c.header, wire)
	wire.Release()
	switch {
	case err != nil:
		bt.fail(lo, hi, c.sendError(err))
	case status >= 200 && status <= 299:
		c.logger.Debug("analytics: batch delivered", "messages", hi-lo, "bytes", wireLen)
	case hi-lo > 1 && splittable(status):
		mid := lo + (hi-lo)/2
		c.logger.Debug("analytics: batch refused; sending its halves to isolate the invalid messages",
			"status", status, "messages", hi-lo)
		c.sendRange(ctx, s, bt, lo, mid, true)
		c.sendRange(ctx, s, bt, mid, hi, true)
	default:
		if status == http.StatusUnauthorized || status == http.StatusForbidden {
			c.authFailed(status)
		}
		bt.fail(lo, hi, &APIError{StatusCode: status, Body: c.redact(excerpt), Retryable: transport.Retryable(status)})
	}
}

// splittable reports whether an answer with this status refuses the
// content of a request, so that its halves may fare better.
func splittable(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

func (c *Client) sendError(err error) error {
	if c.deliveryCtx.Err() != nil {
		return c.abandoned()
	}
	return fmt.Errorf("analytics: batch request failed: %w", err)
}

// authFailed logs the first answer that refuses the API key, once, with a
// hint; later ones are logged at Debug with the batch (see report).
func (c *Client) authFailed(status int) {
	if c.authLogged.Swap(true) {
		return
	}
	c.logger.Error("analytics: the API refused the API key; no message will be delivered until it is fixed",
		"status", status,
		"hint", "check the key, and that the client's region (WithRegion) is the region of the workspace it belongs to")
}

// body returns the request body for items, gzipped if so configured,
// built in place in a pooled transport.Body that the caller holds and
// releases once its request is done. A Body goes back to the pool only
// when net/http has closed every reader of it too, since it may still
// read a request body after the response has come (an early 4xx); see
// transport.Body. The message bytes are the ones Enqueue encoded, so a
// half of a refused batch carries the same JSON.
func (c *Client) body(items []item) *transport.Body {
	size := envelopeBytes
	for i := range items {
		size += len(items[i].data) + 1
	}
	bd := getBody()
	bd.Hold()
	if !c.cfg.gzip {
		bd.Buf = c.appendBatch(slices.Grow(bd.Buf[:0], size), items)
		return bd
	}
	// The JSON is only read here, so its buffer goes back to the pool
	// at once; what net/http reads is the compressed copy.
	jp := jsonPool.Get().(*[]byte)
	raw := c.appendBatch(slices.Grow((*jp)[:0], size), items)
	w := appendWriter{buf: bd.Buf[:0]}
	zw := gzipPool.Get().(*gzip.Writer)
	zw.Reset(&w)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	zw.Reset(nil)
	gzipPool.Put(zw)
	bd.Buf = w.buf
	if cap(raw) <= maxPooledBody {
		*jp = raw[:0]
		jsonPool.Put(jp)
	}
	return bd
}

// appendBatch appends the batch request body of items to dst.
func (c *Client) appendBatch(dst []byte, items []item) []byte {
	dst = append(dst, `{"batch":[`...)
	for i := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, items[i].data...)
	}
	dst = append(dst, `],"sentAt":`...)
	dst = jsonw.AppendTime(dst, c.cfg.now())
	return append(dst, '}')
}

// maxPooledBody is the largest buffer the body pools keep: a full batch
// request with room to spare.
const maxPooledBody = 2 * MaxBatchBytes

// bodyPool holds request bodies that nobody reads any more (putBody).
var bodyPool sync.Pool // *transport.Body

// jsonPool holds the buffers that batches are written into before gzip.
var jsonPool = sync.Pool{New: func() any { return new([]byte) }}

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
	bodyPool.Put(bd)
}

// appendWriter is an io.Writer appending to buf.
type appendWriter struct{ buf []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// redact removes the API key, and the Authorization value made from it, from
// text the API sent back, so that it cannot reach an error or a log line.
func (c *Client) redact(s string) string {
	if s == "" {
		return s
	}
	s = strings.ReplaceAll(s, c.apiKey, "[redacted]")
	s = strings.ReplaceAll(s, strings.TrimPrefix(c.header.Get("Authorization"), "Basic "), "[redacted]")
	// Cut to 512 bytes only now, so that a key at the edge is not left in
	// part; back off to a rune boundary.
	if len(s) > maxExcerpt {
		n := maxExcerpt
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return s
}

// report passes the outcome of bt to the spool, the logger, the
// WithCallback function, and then the counters and the barrier, in that
// order: a Flush returns only after the callbacks of the messages it waited
// for. It is the one place where a batch's final outcome (bt.items with
// bt.errs) is known, for every batch, abandoned ones included.
//
// With a spool, a message given up after its retries is not lost: the
// spool sends it again (its error becomes a *requeuedError). It is no
// failure in Stats and gets no callback, which is for final outcomes; a
// Flush that waited for it reports it as not delivered.
func (c *Client) report(bt *batch) {
	if c.spool != nil {
		c.spool.ack(bt)
	}
	var aborted error
	if c.deliveryCtx.Err() != nil {
		aborted = context.Cause(c.deliveryCtx)
	}
	o := tally(bt.errs, aborted)
	switch {
	case o.lost+o.requeued+o.parked == 0:
	case o.lost == 0:
		c.logger.Warn("analytics: messages not delivered yet; the spool sends them again", "messages", o.requeued+o.parked, "error", o.last)
	case o.auth && o.lost == o.status:
		// Logged once at Error by authFailed; a revoked key must not
		// write an error line per batch all day.
		c.logger.Debug("analytics: messages not delivered", "messages", o.lost, "error", o.last)
	default:
		c.logger.Error("analytics: messages not delivered", "messages", o.lost, "of", len(bt.items), "error", o.last)
	}
	if c.cfg.callback != nil {
		for i := range bt.items {
			it := &bt.items[i]
			var err error
			if bt.errs != nil {
				err = bt.errs[i]
			}
			if _, again := err.(*requeuedError); again {
				continue
			}
			c.callback(Result{MessageID: it.messageID(), Type: it.typ, Event: it.eventName(), Err: err})
		}
	}
	c.b.settle(bt, o)
}

// tally classifies the outcome of a batch from each message's error (errs
// nil: all delivered); aborted is the cause Shutdown canceled delivery
// with, if it has.
func tally(errs []error, aborted error) outcome {
	var o outcome
	for _, err := range errs {
		if err == nil {
			continue
		}
		o.last = err
		if rq, again := err.(*requeuedError); again {
			if rq.parked {
				o.parked++
			} else {
				o.requeued++
			}
			continue
		}
		o.lost++
		var apiErr *APIError
		switch {
		case errors.Is(err, ErrSpoolLost):
			o.spool++
		case errors.As(err, &apiErr) && !apiErr.Retryable:
			o.status++
			o.auth = o.auth || apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden
		case aborted != nil && errors.Is(err, aborted):
			o.aborted++
		default:
			o.retries++
		}
	}
	return o
}

// callback calls the WithCallback function. A panic in it is logged, not
// propagated: it must not stop the sender, crash the program, or keep the
// batch's other messages from being reported.
func (c *Client) callback(r Result) {
	defer func() {
		if p := recover(); p != nil {
			c.logger.Error("analytics: WithCallback function panicked", "panic", p, "messageId", r.MessageID)
		}
	}()
	c.cfg.callback(r)
}
