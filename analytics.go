package analytics

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/cdpkit/analytics-go/internal/jsonw"
	"github.com/cdpkit/analytics-go/internal/queue"
	"github.com/cdpkit/analytics-go/internal/transport"
)

// Version is this library's release version. It is sent with every message
// as context.library.version.
const Version = "0.2.0"

// LibraryName is sent with every message as context.library.name.
const LibraryName = "github.com/cdpkit/analytics-go"

// envelopeBytes is the size of a batch request body without its messages
// and the commas between them: {"batch":[ ],"sentAt":"…"}.
const envelopeBytes = len(`{"batch":[`) + len(`],"sentAt":"2006-01-02T15:04:05.000Z"}`)

// Client sends messages to the Customer.io Data Pipelines API in batches.
// Create one with New at start-up, share it between goroutines, and call
// Close (or Shutdown) before the program exits.
//
// # Concurrency model
//
// All methods are safe for concurrent use. Enqueue validates and encodes the
// message in the caller's goroutine and appends the bytes to a queue bounded
// by WithQueueCapacity messages and WithQueueMaxBytes bytes; it never waits
// on the network. One batcher goroutine cuts the head of the queue into
// batches, each at most WithBatchSize messages and MaxBatchBytes bytes of
// request body, when a batch is full, when the flush interval ticks, and
// when Flush or Shutdown asks. It hands each batch to a fixed pool of
// WithMaxInFlight sender goroutines, which POST it with retries and report
// every message's outcome to Stats, the logger and the WithCallback
// function. When every sender is busy the batcher waits, the queue fills,
// and Enqueue returns ErrQueueFull: memory stays bounded.
//
// Flush and Shutdown are barriers on that pipeline: Flush waits for the
// outcome of everything enqueued before it; Shutdown stops intake, delivers
// the rest and stops the goroutines.
type Client struct {
	cfg     config
	apiKey  string // used only for the Authorization header and redaction
	url     string
	header  http.Header
	library string
	logger  *slog.Logger

	q        *queue.Queue[item]
	closed   atomic.Bool
	batches  chan *batch
	flushReq chan chan uint64
	stopping chan struct{} // closed when Shutdown begins
	done     chan struct{} // closed when every goroutine has stopped

	deliveryCtx    context.Context // canceled when Shutdown's context ends
	cancelDelivery context.CancelCauseFunc
	aborted        chan struct{}
	abortOnce      sync.Once
	transport      *http.Transport // the client's own, if it made one

	closeOnce    sync.Once
	shutdownFrom uint64 // batches up to here were reported by a Flush before Shutdown
	resultOnce   sync.Once
	result       error

	tracker tracker
	stats   counters

	losses losses

	queueFullLogged atomic.Bool
}

// item is one encoded message in the queue.
type item struct {
	data           []byte
	typ            string
	event          string
	idStart, idEnd int32
}

func (it *item) messageID() string {
	raw := it.data[it.idStart:it.idEnd]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var s string
	if err := json.Unmarshal(it.data[it.idStart-1:it.idEnd+1], &s); err != nil {
		return string(raw)
	}
	return s
}

// batch is a cut of the queue on its way to the API.
type batch struct {
	seq   uint64
	items []item
	size  int // bytes of the messages and the commas between them
}

// New returns a client that sends with apiKey, the API key of a Customer.io
// Data Pipelines source, and starts its goroutines. Spaces and newlines
// around the key are removed. It returns an error if the key is empty or an
// option is invalid.
func New(apiKey string, opts ...Option) (*Client, error) {
	// A key read from a file or an environment variable often ends with a
	// newline, which would make every request fail with 401.
	apiKey = strings.TrimSpace(apiKey)
	if apiKey == "" {
		return nil, errEmptyKey
	}
	cfg := defaultConfig()
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}

	c := &Client{
		cfg:      cfg,
		apiKey:   apiKey,
		url:      cfg.endpoint + "/batch",
		logger:   cfg.logger,
		batches:  make(chan *batch),
		flushReq: make(chan chan uint64),
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
		aborted:  make(chan struct{}),
	}
	c.q = queue.New[item](cfg.queueCapacity, cfg.queueMaxBytes, cfg.batchSize, MaxBatchBytes-envelopeBytes)
	c.deliveryCtx, c.cancelDelivery = context.WithCancelCause(context.Background())
	c.tracker.init()

	c.header = http.Header{
		"Content-Type":  {"application/json"},
		"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(apiKey+":"))},
		"User-Agent":    {"cdpkit-analytics-go/" + Version},
	}
	if cfg.gzip {
		c.header["Content-Encoding"] = []string{"gzip"}
	}
	lib := []byte(`"library":{"name":`)
	lib = jsonw.AppendString(lib, LibraryName)
	lib = append(lib, `,"version":`...)
	lib = jsonw.AppendString(lib, Version)
	c.library = string(append(lib, '}'))

	hc := c.httpClient()
	policy := transport.Policy{
		MaxAttempts:   cfg.maxAttempts,
		WaitMin:       cfg.retryWaitMin,
		WaitMax:       cfg.retryWaitMax,
		MaxRetryAfter: cfg.maxRetryAfter,
	}
	senders := make([]*transport.Sender, cfg.maxInFlight)
	for i := range senders {
		senders[i] = c.newSender(hc, policy)
	}
	go c.run(senders)
	return c, nil
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

// Enqueue validates msg, encodes it, and queues it for delivery. It never
// waits on the network. It returns a *ValidationError (matching
// ErrInvalidMessage) for an invalid message, ErrMessageTooLarge for one that
// encodes to more than MaxMessageBytes, ErrQueueFull when the queue is full,
// and ErrClosed after Shutdown or Close began. A message that Enqueue
// rejects is never sent.
//
// A message without a MessageID gets a random UUID and one without a
// Timestamp gets the current time. The message is encoded before Enqueue
// returns, so the caller may reuse its maps at once.
func (c *Client) Enqueue(msg Message) error {
	return c.enqueue(context.Background(), false, msg)
}

// EnqueueContext is Enqueue for callers who prefer backpressure to drops:
// when the queue is full it waits for room until ctx ends (returning
// ctx.Err()) or the client is shut down (returning ErrClosed).
func (c *Client) EnqueueContext(ctx context.Context, msg Message) error {
	if ctx == nil {
		ctx = context.Background()
	}
	return c.enqueue(ctx, true, msg)
}

// enqueue encodes msg and queues it, waiting for room if block is set.
func (c *Client) enqueue(ctx context.Context, block bool, msg Message) error {
	if c == nil {
		return errNilClient
	}
	if c.closed.Load() {
		return ErrClosed
	}
	e := encoderPool.Get().(*encoder)
	e.reset()
	e.now = c.cfg.now()
	e.newID = c.cfg.newID
	e.library = c.library
	err := encodeMessage(e, msg)
	if err == nil && len(e.buf) > MaxMessageBytes {
		err = fmt.Errorf("%w: %s encodes to %d bytes (limit %d)", ErrMessageTooLarge, describe(e.typ, e.event), len(e.buf), MaxMessageBytes)
	}
	if err != nil {
		if errors.Is(err, ErrMessageTooLarge) {
			c.stats.tooLarge.Add(1)
		} else {
			c.stats.invalid.Add(1)
		}
		encoderPool.Put(e)
		return err
	}
	it := item{
		data:    e.keep(),
		typ:     e.typ,
		event:   e.event,
		idStart: int32(e.idStart),
		idEnd:   int32(e.idEnd),
	}
	err = c.q.TryPush(it, len(it.data))
	if err != nil {
		e.unkeep(it.data)
	}
	if err == queue.ErrFull && block {
		// Wait holding only the message: not the pooled encoder and its
		// chunk, which thousands of blocked callers would multiply.
		it.data = bytes.Clone(it.data)
		encoderPool.Put(e)
		err = c.q.Push(ctx, it, len(it.data))
	} else {
		encoderPool.Put(e)
	}
	switch err {
	case nil:
		c.stats.enqueued.Add(1)
		c.queueFullLogged.Store(false)
		return nil
	case queue.ErrFull:
		c.stats.droppedFull.Add(1)
		if !c.queueFullLogged.Swap(true) {
			c.logger.Warn("analytics: queue full; dropping messages until it drains",
				"capacity", c.cfg.queueCapacity, "maxBytes", c.cfg.queueMaxBytes)
		}
		return ErrQueueFull
	case queue.ErrClosed:
		return ErrClosed
	}
	return err
}

var errNilClient = fmt.Errorf("analytics: method called on a nil *Client: %w", ErrClosed)

// encodeMessage encodes msg, turning a panic inside it (a nil pointer
// message, a MarshalJSON that panics) into an error: Enqueue must never
// crash its caller.
func encodeMessage(e *encoder, msg Message) (err error) {
	if msg == nil {
		return &ValidationError{Field: "message", Reason: "nil Message"}
	}
	defer func() {
		if r := recover(); r != nil {
			err = &ValidationError{Type: e.typ, Event: e.event, Field: "message", Reason: fmt.Sprintf("encoding panicked: %v", r)}
		}
	}()
	return encodeKnown(e, msg)
}

// Errors of encodeKnown (dispatch.go). They are constants so that the
// message itself is never handed to fmt, which would make it escape.
var (
	errNilMessage     = &ValidationError{Field: "message", Reason: "nil pointer Message"}
	errUnknownMessage = &ValidationError{Field: "message", Reason: "unsupported Message type"}
)

func describe(typ, event string) string {
	if event != "" {
		return fmt.Sprintf("%s %q", typ, event)
	}
	if typ == "" {
		return "message"
	}
	return typ
}

// run is the batcher goroutine. It owns the cutting of batches and starts
// and stops the senders.
func (c *Client) run(senders []*transport.Sender) {
	var wg sync.WaitGroup
	for _, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range c.batches {
				c.deliver(s, b)
			}
		}()
	}
	ticker := time.NewTicker(c.cfg.flushInterval)
	defer ticker.Stop()
	more := false // a full batch may still be waiting
	for {
		ready := c.q.Ready()
		if more {
			ready = closedChan
		}
		select {
		case <-ready:
			if c.q.Full() {
				c.cut(c.cfg.batchSize)
			}
			more = c.q.Full()
		case <-ticker.C:
			c.cutQueued()
		case reply := <-c.flushReq:
			c.cutQueued()
			reply <- c.tracker.lastSeq()
		case <-c.stopping:
			c.cutQueued() // the queue is closed: this is all of it
			close(c.batches)
			wg.Wait()
			if c.transport != nil {
				c.transport.CloseIdleConnections()
			}
			close(c.done)
			return
		}
	}
}

var closedChan = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

// cutQueued cuts everything queued now into batches and dispatches them.
func (c *Client) cutQueued() {
	n, _ := c.q.Len()
	for n > 0 {
		taken := c.cut(n)
		if taken == 0 {
			return
		}
		n -= taken
	}
}

// cut takes one batch of at most limit messages from the queue and hands it
// to a sender, waiting for one to be free. It returns the number taken.
func (c *Client) cut(limit int) int {
	b := &batch{}
	b.items, b.size = c.q.Cut(make([]item, 0, min(limit, c.cfg.batchSize)), limit)
	if len(b.items) == 0 {
		return 0
	}
	b.seq = c.tracker.add()
	c.stats.inFlight.Add(int64(len(b.items)))
	select {
	case c.batches <- b:
	case <-c.aborted:
		c.finish(b, 0, c.abandoned())
	}
	return len(b.items)
}

func (c *Client) abandoned() error {
	return fmt.Errorf("analytics: abandoned when Shutdown's context ended: %w", context.Cause(c.deliveryCtx))
}

// gzipPool holds gzip writers; the compressed bodies they write are never
// pooled (see deliver).
var gzipPool = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression)
	return zw
}}

// deliver sends one batch and reports the outcome. It runs on a sender
// goroutine.
func (c *Client) deliver(s *transport.Sender, b *batch) {
	if c.deliveryCtx.Err() != nil {
		c.finish(b, 0, c.abandoned())
		return
	}
	// The body is allocated per batch, not pooled: net/http may still read
	// a request body after the response has come (an early 4xx), so it is
	// never safe to reuse once sent.
	body := make([]byte, 0, b.size+envelopeBytes)
	body = append(body, `{"batch":[`...)
	for i := range b.items {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, b.items[i].data...)
	}
	body = append(body, `],"sentAt":`...)
	body = jsonw.AppendTime(body, c.cfg.now())
	body = append(body, '}')

	wire := body
	if c.cfg.gzip {
		var buf bytes.Buffer
		buf.Grow(len(body) / 4)
		zw := gzipPool.Get().(*gzip.Writer)
		zw.Reset(&buf)
		_, _ = zw.Write(body)
		_ = zw.Close()
		zw.Reset(nil)
		gzipPool.Put(zw)
		wire = buf.Bytes()
	}
	wireLen := int64(len(wire))
	s.OnAttempt = func(attempt int) {
		c.stats.requests.Add(1)
		c.stats.bytesSent.Add(wireLen)
		if attempt > 0 {
			c.stats.retries.Add(1)
		}
	}

	ctx, cancel := context.WithTimeout(c.deliveryCtx, c.cfg.maxRetryTime)
	status, excerpt, err := s.Do(ctx, c.url, c.header, wire)
	cancel()

	switch {
	case err != nil && c.deliveryCtx.Err() != nil:
		err = c.abandoned()
	case err != nil:
		err = fmt.Errorf("analytics: batch request failed: %w", err)
	case status < 200 || status > 299:
		err = &APIError{StatusCode: status, Body: c.redact(excerpt), Retryable: transport.Retryable(status)}
	}
	c.finish(b, len(wire), err)
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

// maxExcerpt is the most of an API answer an APIError keeps.
const maxExcerpt = 512

// finish records the final outcome of a batch.
func (c *Client) finish(b *batch, wireBytes int, err error) {
	n := int64(len(b.items))
	c.stats.inFlight.Add(-n)
	c.stats.batches.Add(1)
	if err == nil {
		c.stats.delivered.Add(n)
		c.logger.Debug("analytics: batch delivered", "messages", n, "bytes", wireBytes)
	} else {
		c.stats.failed.Add(n)
		var apiErr *APIError
		switch {
		case errors.As(err, &apiErr) && !apiErr.Retryable:
			c.stats.failedStatus.Add(n)
		case c.deliveryCtx.Err() != nil && errors.Is(err, context.Cause(c.deliveryCtx)):
			c.stats.failedShutdown.Add(n)
		default:
			c.stats.failedRetries.Add(n)
		}
		c.losses.add(b.seq, n, err)
		c.logger.Error("analytics: messages not delivered", "messages", n, "error", err)
	}
	if c.cfg.callback != nil {
		c.report(b, err)
	}
	c.tracker.done(b.seq)
}

// report passes the outcome of each message of b to the WithCallback
// function. A panic in that function is logged, not propagated: it must not
// stop the sender, crash the program, or keep the batch's other messages
// from being reported.
func (c *Client) report(b *batch, err error) {
	for i := range b.items {
		it := &b.items[i]
		c.callback(Result{MessageID: it.messageID(), Type: it.typ, Event: it.event, Err: err})
	}
}

func (c *Client) callback(r Result) {
	defer func() {
		if p := recover(); p != nil {
			c.logger.Error("analytics: WithCallback function panicked", "panic", p, "messageId", r.MessageID)
		}
	}()
	c.cfg.callback(r)
}

// Flush sends everything enqueued before the call, including batches being
// retried, and waits for the outcome. It returns nil when no message was
// lost; a *DeliveryError counting the messages lost among those it waited
// for, except those an earlier Flush (one that had finished when this one
// began) already reported; ErrClosed after Shutdown began; or ctx.Err() if
// ctx ended first, in which case delivery goes on in the background. The
// client stays usable. Concurrent Flush calls each report the losses they
// waited for.
//
// A nil ctx is taken as context.Background(). Flush is a barrier for scripts
// and tests. A service need not call it: the client sends on its own, and
// Close delivers the rest at exit.
func (c *Client) Flush(ctx context.Context) error {
	if c == nil {
		return errNilClient
	}
	if ctx == nil {
		ctx = context.Background()
	}
	reply := make(chan uint64, 1)
	select {
	case c.flushReq <- reply:
	case <-c.stopping:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	var seq uint64
	select {
	case seq = <-reply:
	case <-ctx.Done():
		return ctx.Err()
	}
	since := c.losses.beginFlush()
	err := c.tracker.wait(ctx, seq)
	lost := c.losses.endFlush(since, seq, err == nil)
	if err != nil {
		return err
	}
	return lost
}

// Shutdown stops taking messages (Enqueue returns ErrClosed from now on),
// sends everything queued and in flight, retrying under the retry policy
// until each batch is delivered, given up, or ctx ends, and then stops the
// client's goroutines. When ctx ends first, the remaining messages are
// abandoned and Shutdown returns at once.
//
// It returns nil when every message was delivered, or a *DeliveryError
// counting the messages that were not, except those a Flush that had
// finished before Shutdown began already reported; its Err is the last
// cause. Shutdown is safe to call more than
// once and from several goroutines; every call waits for the same end and
// returns the same result. A nil ctx is taken as context.Background().
func (c *Client) Shutdown(ctx context.Context) error {
	if c == nil {
		return nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	c.closeOnce.Do(func() {
		c.shutdownFrom = c.losses.beginShutdown()
		c.closed.Store(true)
		c.q.Close()
		close(c.stopping)
	})
	select {
	case <-c.done:
	case <-ctx.Done():
		c.abortOnce.Do(func() {
			c.cancelDelivery(ctx.Err())
			close(c.aborted)
		})
		<-c.done
	}
	c.resultOnce.Do(func() { c.result = c.losses.report(c.shutdownFrom, math.MaxUint64) })
	return c.result
}

// Close is Shutdown with the timeout set by WithShutdownTimeout (default
// DefaultShutdownTimeout). Call it before the program exits; a nil *Client's
// Close does nothing.
func (c *Client) Close() error {
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.shutdownTimeout)
	defer cancel()
	return c.Shutdown(ctx)
}

// String describes the client without its API key, for %v and %+v.
func (c *Client) String() string {
	if c == nil {
		return "analytics.Client(nil)"
	}
	return fmt.Sprintf("analytics.Client{endpoint: %s, version: %s}", c.url, Version)
}

// GoString is String, so that %#v does not print the API key either.
func (c *Client) GoString() string { return c.String() }

// LogValue describes the client to log/slog without its API key.
func (c *Client) LogValue() slog.Value {
	if c == nil {
		return slog.StringValue("analytics.Client(nil)")
	}
	return slog.GroupValue(slog.String("endpoint", c.url), slog.String("version", Version))
}

// tracker numbers batches as they are cut and tells Flush when every batch
// up to a number has finished. Batches finish out of order.
type tracker struct {
	mu          sync.Mutex
	last        uint64              // the last number handed out
	doneThrough uint64              // every batch <= doneThrough has finished
	pending     map[uint64]struct{} // finished batches above doneThrough
	changed     chan struct{}       // closed and replaced when doneThrough grows
}

func (t *tracker) init() {
	t.pending = make(map[uint64]struct{})
	t.changed = make(chan struct{})
}

func (t *tracker) add() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last++
	return t.last
}

func (t *tracker) lastSeq() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

func (t *tracker) done(seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pending[seq] = struct{}{}
	advanced := false
	for {
		if _, ok := t.pending[t.doneThrough+1]; !ok {
			break
		}
		delete(t.pending, t.doneThrough+1)
		t.doneThrough++
		advanced = true
	}
	if advanced {
		close(t.changed)
		t.changed = make(chan struct{})
	}
}

// wait returns when every batch up to seq has finished, or ctx ends.
func (t *tracker) wait(ctx context.Context, seq uint64) error {
	for {
		t.mu.Lock()
		if t.doneThrough >= seq {
			t.mu.Unlock()
			return nil
		}
		ch := t.changed
		t.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
