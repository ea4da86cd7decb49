package analytics

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cdpkit/analytics-go/internal/jsonw"
)

// Version is this library's release version. It is sent with every message
// as context.library.version.
const Version = "0.3.0"

// LibraryName is sent with every message as context.library.name.
const LibraryName = "github.com/cdpkit/analytics-go"

// Client sends messages to the Customer.io Data Pipelines API in batches.
// Create one with New at start-up, share it between goroutines, and call
// Close (or Shutdown) before the program exits.
//
// # Concurrency model
//
// All methods are safe for concurrent use. Enqueue validates and encodes
// the message in the caller's goroutine and queues a copy of its bytes,
// bounded by WithQueueCapacity messages and WithQueueMaxBytes bytes; it
// never waits on the network. One batcher goroutine cuts the queue into
// batches, each at most WithBatchSize messages and MaxBatchBytes bytes of
// request body, when a batch is full, when the flush interval ticks, and
// when Flush or Shutdown asks. It hands each batch to a fixed pool of
// WithMaxInFlight sender goroutines, which POST it with retries (halving a
// batch the API refuses as invalid, to isolate the invalid messages) and
// report every message's outcome to Stats, the logger and the WithCallback
// function. When every sender is busy the batcher waits, the queue fills,
// and Enqueue returns ErrQueueFull: memory stays bounded. With WithOutput,
// one goroutine writes the batches to the writer instead of the senders.
//
// Transforms (WithTransform) run in Enqueue, on the caller's goroutine,
// before the message is validated and encoded.
//
// Flush and Shutdown are barriers on that pipeline: Flush waits for the
// outcome of everything enqueued before it; Shutdown stops intake,
// delivers the rest and stops the goroutines, by its deadline.
//
// The goroutines, and where each is documented:
//
//	batcher   one; cuts the queue into batches (batcher.run, batch.go)
//	senders   WithMaxInFlight of them; send and report batches (startSenders, send.go);
//	          with WithOutput, one writer instead (startOutput, output.go)
//	feeder    with WithSpool, one; reads the spool into the queue (spooler.feed, spool.go)
//	syncer    with WithSpool and a positive WithSpoolSync, one; fsyncs the spool (internal/spool)
//
// The locks, in the order they may be taken: spooler.mu (orders the
// spool's appends with their numbering), then either batcher.mu (the
// queue, the counters, the barrier) or the spool log's own lock; the last
// two are never held together. None is held across a network call, a
// callback or a log call; the spool log's lock is held across its file
// writes.
//
// The zero Client is a closed client: Enqueue and Flush return ErrClosed,
// Shutdown and Close return nil, Stats is zero.
type Client struct {
	// shaping is whether messages have a default context or transforms
	// (see prepare).
	shaping bool
	cfg     config
	apiKey  string // used only for the Authorization header and redaction
	url     string
	header  http.Header
	logger  *slog.Logger
	// library is `"library":{...}`, pre-encoded for every message.
	library string

	b *batcher
	// spool is the durable spool (WithSpool), or nil.
	spool *spooler

	// deliveryCtx is canceled, with the cause, when Shutdown's context
	// ends: every request in flight is abandoned.
	deliveryCtx    context.Context
	cancelDelivery context.CancelCauseFunc

	// Counted by Enqueue (WithTransform), read by Stats.
	rejectedByTransform, droppedByTransform atomic.Int64
	transformPanicLogged                    atomic.Bool // the first panic has been logged
}

// abortGrace is how long Shutdown, once its context has ended, waits for
// the goroutines to notice before it returns without them.
const abortGrace = 50 * time.Millisecond

// New returns a client that sends with apiKey, the API key of a Customer.io
// Data Pipelines source, and starts its goroutines. Spaces and newlines
// around the key are removed. It returns an error if the key is empty
// (which only WithOutput allows) or an option is invalid.
func New(apiKey string, opts ...Option) (*Client, error) {
	// A key read from a file or an environment variable often ends with a
	// newline, which would make every request fail with 401.
	apiKey = strings.TrimSpace(apiKey)
	cfg := defaultConfig()
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if apiKey == "" && cfg.output == nil {
		return nil, errEmptyKey
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}

	c := &Client{
		shaping: cfg.defaultContext != nil || len(cfg.transforms) > 0,
		cfg:     cfg,
		apiKey:  apiKey,
		url:     cfg.endpoint + "/batch",
		logger:  cfg.logger,
	}
	c.b = newBatcher(&c.cfg, c.logger)
	c.deliveryCtx, c.cancelDelivery = context.WithCancelCause(context.Background())
	c.b.abandon = c.abandonBatch
	c.b.cancel = c.cancelDelivery
	c.b.unfinished = c.unfinishedCause
	if err := c.openSpool(); err != nil {
		return nil, err
	}

	c.header = http.Header{
		"Content-Type":  {"application/json"},
		"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(apiKey+":"))},
		"User-Agent":    {"cdpkit-analytics-go/" + Version},
	}
	if cfg.strict {
		c.header["X-Strict-Mode"] = []string{"1"}
	}
	if cfg.gzip {
		c.header["Content-Encoding"] = []string{"gzip"}
	}
	lib := []byte(`"library":{"name":`)
	lib = jsonw.AppendString(lib, LibraryName)
	lib = append(lib, `,"version":`...)
	lib = jsonw.AppendString(lib, Version)
	c.library = string(append(lib, '}'))

	var wait func()
	if cfg.output != nil {
		wait = c.startOutput()
	} else {
		wait = c.startSenders()
	}
	if c.spool != nil {
		wait = c.spool.closeAfter(wait)
	}
	go c.b.run(wait)
	return c, nil
}

// Enqueue validates msg, encodes it, and queues it for delivery. It never
// waits on the network. It returns:
//   - nil once the message is queued (with WithSpool, written to the spool);
//   - a *ValidationError, matching ErrInvalidMessage, for an invalid message,
//     or a type that embeds one of this package's messages (see Message);
//   - ErrMessageTooLarge for one that encodes to more than MaxMessageBytes;
//   - a *TransformError when a transform panicked on it (WithTransform);
//   - ErrQueueFull when the queue is full (with WithSpool, the spool), or,
//     with WithSpool, the error of a write the disk refused; while the
//     memory queue is full, Enqueue refuses at once, before it validates,
//     transforms or encodes the message;
//   - ErrClosed once Shutdown or Close has begun.
//
// A message that Enqueue refuses is never sent.
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
//
// It also fills the context fields msg leaves empty from the Context that
// Middleware (or NewContext) stored in ctx, such as the IP address of the
// HTTP request being served; that Context in turn wins over the client's
// default context (WithDefaultContext).
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
	if c.b == nil {
		return ErrClosed
	}
	if !block && c.spool == nil && c.b.refuseAtGate() {
		// The memory queue is full: refused before any work, without
		// the batcher's lock (see batcher).
		return ErrQueueFull
	}
	e := encoderPool.Get().(*encoder)
	e.reset()
	e.now = c.cfg.now()
	e.newID = c.cfg.newID
	e.library = c.library
	if block || c.shaping {
		// Outside this function, so that a client without shaping
		// pays for none of it here.
		var keep bool
		var err error
		if msg, keep, err = c.prepare(ctx, block, e, msg); !keep {
			encoderPool.Put(e)
			return c.refuseShaped(err)
		}
	}
	err := encodeMessage(e, msg)
	if err == nil && len(e.buf) > MaxMessageBytes {
		err = fmt.Errorf("%w: %s encodes to %d bytes (limit %d)", ErrMessageTooLarge, describe(e.typ, e.eventName()), len(e.buf), MaxMessageBytes)
	}
	if err != nil {
		encoderPool.Put(e)
		c.b.reject(errors.Is(err, ErrMessageTooLarge))
		return err
	}
	if c.spool != nil {
		err := c.spool.enqueue(ctx, block, e)
		encoderPool.Put(e)
		return err
	}
	it := item{data: e.buf, typ: e.typ,
		idStart: int32(e.idStart), idEnd: int32(e.idEnd),
		eventStart: int32(e.eventStart), eventEnd: int32(e.eventEnd)}
	if !block {
		err = c.b.admit(it, fromEnqueue, refuse, nil) // copies e.buf into the queue
		encoderPool.Put(e)
		return err
	}
	// The caller waits for room if the queue is full; first it looks. A
	// large encoder buffer is not held while waiting: a thousand waiting
	// callers must not hold a thousand of them.
	err = c.b.admit(it, fromEnqueue, look, nil)
	if err == errNoRoom && cap(e.buf) > maxHeldWhileWaiting {
		it.data = bytes.Clone(e.buf)
		encoderPool.Put(e)
		e = nil
	}
	if err == errNoRoom {
		err = c.b.admit(it, fromEnqueue, await, ctx.Done())
	}
	if e != nil {
		encoderPool.Put(e)
	}
	if err == errNoRoom {
		err = ctx.Err()
	}
	return err
}

// prepare sets the defaults of msg's context in e (the request's context
// in ctx, from Middleware, over the client's WithDefaultContext; a plain
// Enqueue, block unset, has no request) and runs the transforms, if any.
// It returns the message to encode, msg itself without transforms, and
// whether to send it at all (see refuseShaped for err).
func (c *Client) prepare(ctx context.Context, block bool, e *encoder, msg Message) (Message, bool, error) {
	e.defaults = c.cfg.defaultContext
	if block {
		if r := requestContext(ctx); r != nil {
			e.defaults = underContext(r, e.defaults)
		}
	}
	if len(c.cfg.transforms) == 0 {
		return msg, true, nil
	}
	shaped, err := c.shape(e, msg, e.defaults)
	if err != nil || shaped == nil {
		return nil, false, err
	}
	e.defaults = nil // merged into the Envelope's context
	return shaped, true, nil
}

// refuseShaped counts a message the transforms did not leave to be sent:
// dropped on purpose (err is nil), refused because one panicked, or
// invalid as they left it. It returns what Enqueue returns.
func (c *Client) refuseShaped(err error) error {
	var te *TransformError
	switch {
	case err == nil:
		c.droppedByTransform.Add(1)
	case errors.As(err, &te):
		c.rejectedByTransform.Add(1)
		if !c.transformPanicLogged.Swap(true) {
			c.logger.Error("analytics: a transform panicked; its message was refused (later panics are counted in Stats.RejectedByTransform)",
				"transform", te.Index, "type", te.Type, "event", te.Event, "panic", te.Value)
		}
	default:
		c.b.reject(errors.Is(err, ErrMessageTooLarge))
	}
	return err
}

// maxHeldWhileWaiting is the largest encoder buffer an EnqueueContext
// holds while it waits for room in the queue; past it, it waits with a
// copy of the message instead.
const maxHeldWhileWaiting = 4 << 10

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
			err = &ValidationError{Type: e.typ, Event: e.eventName(), Field: "message", Reason: fmt.Sprintf("encoding panicked: %v", r)}
		}
	}()
	if err := encodeKnown(e, msg); err != nil {
		return err
	}
	return e.err
}

// errNilMessage is the error of encodeKnown (dispatch.go) for a nil pointer.
// It is a constant so that the message itself is never handed to fmt, which
// would make it escape.
var errNilMessage = &ValidationError{Field: "message", Reason: "nil pointer Message"}

// errUnlistedMessage is the error of encodeKnown (dispatch.go) for a type
// it does not list: a user's struct that embeds a core message, such as
// struct{ analytics.Track }, and so has its appendMessage by promotion. It
// names the type through reflect.TypeOf, which (unlike fmt's %T) does not
// make msg escape.
func errUnlistedMessage(msg Message) error {
	return &ValidationError{Field: "message", Reason: "type " + reflect.TypeOf(msg).String() +
		" is not one of this package's message types; pass the core message it embeds (its field named after the type, such as m.Track) itself"}
}

func describe(typ, event string) string {
	if event != "" {
		return fmt.Sprintf("%s %q", typ, event)
	}
	if typ == "" {
		return "message"
	}
	return typ
}

// Flush sends everything enqueued before the call, batches being retried
// included, and waits for their outcome. It returns:
//   - nil when every one of those messages was delivered;
//   - a *DeliveryError counting those that were not, but those that a Flush
//     finished before this one began already reported (with WithSpool,
//     messages the spool sends again count as not delivered yet);
//   - ErrClosed once Shutdown has begun;
//   - ctx.Err() if ctx ended first; delivery goes on in the background.
//
// The client stays usable. Concurrent Flush calls each report the losses
// they waited for: a Flush stands for the messages enqueued when it is
// called. A nil ctx is taken as context.Background().
//
// Flush is a barrier for scripts and tests. A service need not call it: the
// client sends on its own, and Close delivers the rest at exit.
func (c *Client) Flush(ctx context.Context) error {
	if c == nil {
		return errNilClient
	}
	if c.b == nil {
		return ErrClosed
	}
	if ctx == nil {
		ctx = context.Background()
	}
	w, err := c.b.beginFlush()
	if err != nil {
		return err
	}
	select {
	case <-w.done:
		return c.b.endFlush(w, true)
	case <-ctx.Done():
		select {
		case <-w.done:
			return c.b.endFlush(w, true)
		default:
		}
		c.b.endFlush(w, false)
		return ctx.Err()
	}
}

// Shutdown stops the client, in three steps:
//   - it stops taking messages: Enqueue, EnqueueContext and Flush return
//     ErrClosed from now on;
//   - it sends everything queued and in flight (and, with WithSpool, what
//     waits on disk), retrying under the retry policy, until each batch is
//     delivered or given up, or ctx ends;
//   - it stops the client's goroutines.
//
// When ctx ends first, every request in flight is canceled and Shutdown
// returns promptly (within a few tens of milliseconds of the deadline),
// even if a RoundTripper ignores its request's context or a WithCallback
// function is slow. The messages whose outcome is not known by then count
// as undelivered in its result, with the context's error as the cause; the
// goroutines that still hold them finish in the background and report
// them to Stats and the callback when they do (a request that a
// RoundTripper completes regardless may still deliver them).
//
// It returns:
//   - nil when every message was delivered;
//   - a *DeliveryError counting the messages that were not, but those that
//     a Flush finished before Shutdown began already reported; its Err is
//     the last cause.
//
// Shutdown is safe to call more than once and from several goroutines;
// every call returns the same result. A nil ctx is taken as
// context.Background().
func (c *Client) Shutdown(ctx context.Context) error {
	if c == nil || c.b == nil {
		return nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	err := c.b.shutdown(ctx)
	if c.spool != nil {
		// The directory is free for the next client once Shutdown
		// returns, even if a sender held by a RoundTripper that ignores
		// its context is still running: what it reports later is not
		// recorded, and is sent again by the next client.
		c.spool.closeLog()
	}
	return err
}

// Close is Shutdown with the timeout set by WithShutdownTimeout (default
// DefaultShutdownTimeout). Call it before the program exits; a nil *Client's
// Close does nothing.
func (c *Client) Close() error {
	if c == nil || c.b == nil {
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
