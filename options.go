package analytics

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of the options. Each can be changed with the option named in its
// comment.
const (
	// DefaultBatchSize is the most messages in one request (WithBatchSize).
	// A request is cut sooner when it would pass the API's 500 KB: with
	// messages of 500 bytes or more, the bytes decide. BENCHMARKS.md has
	// the measurement behind it.
	DefaultBatchSize = 1000
	// DefaultFlushInterval is how long a message may wait for a batch to
	// fill before it is sent anyway (WithFlushInterval).
	DefaultFlushInterval = 5 * time.Second
	// DefaultQueueCapacity is the most messages waiting to be sent
	// (WithQueueCapacity).
	DefaultQueueCapacity = 10_000
	// DefaultQueueMaxBytes is the most encoded bytes waiting to be sent
	// (WithQueueMaxBytes).
	DefaultQueueMaxBytes = 32 << 20
	// DefaultMaxInFlight is how many batches may be sent at once
	// (WithMaxInFlight).
	DefaultMaxInFlight = 4
	// DefaultMaxAttempts is how many times one batch is tried before it is
	// given up (RetryPolicy.MaxAttempts).
	DefaultMaxAttempts = 8
	// DefaultRetryWaitMin and DefaultRetryWaitMax bound the exponential
	// backoff between attempts (RetryPolicy.WaitMin and WaitMax).
	DefaultRetryWaitMin = 250 * time.Millisecond
	DefaultRetryWaitMax = 15 * time.Second
	// DefaultMaxRetryAfter caps how long a Retry-After header makes the
	// client wait (RetryPolicy.MaxRetryAfter).
	DefaultMaxRetryAfter = 60 * time.Second
	// DefaultMaxRetryTime is how long one batch may be retried in all,
	// waits included (RetryPolicy.MaxTime).
	DefaultMaxRetryTime = 5 * time.Minute
	// DefaultRequestTimeout bounds one HTTP attempt (WithRequestTimeout).
	DefaultRequestTimeout = 15 * time.Second
	// DefaultShutdownTimeout is how long Close waits for delivery
	// (WithShutdownTimeout).
	DefaultShutdownTimeout = 10 * time.Second
)

// Limits of the Customer.io Data Pipelines API. The API answers 200 to a
// request over a limit and silently drops it, so the client enforces them.
// They are counted in bytes of 1,000, which is safe under either reading of
// the documented "32KB" and "500KB".
const (
	// MaxMessageBytes is the largest encoded message (call) the client
	// sends. Enqueue rejects a larger one with ErrMessageTooLarge.
	MaxMessageBytes = 32_000
	// MaxBatchBytes is the largest request body the client sends,
	// envelope included (before any gzip compression).
	MaxBatchBytes = 500_000
	// MaxBatchSize is the largest value WithBatchSize accepts.
	MaxBatchSize = 10_000
)

// Region is a Customer.io data center.
type Region string

// The Customer.io regions. Pass one to WithRegion.
const (
	RegionUS Region = "us"
	RegionEU Region = "eu"
)

// Endpoint returns the API base URL of the region, or "" for an unknown
// region.
func (r Region) Endpoint() string {
	switch r {
	case RegionUS:
		return "https://cdp.customer.io/v1"
	case RegionEU:
		return "https://cdp-eu.customer.io/v1"
	}
	return ""
}

// An Option configures a Client. Options check their arguments; New returns
// the first error.
type Option func(*config) error

// Result is the final outcome of one message, passed to the WithCallback
// function.
type Result struct {
	// MessageID is the messageId the message was sent with.
	MessageID string
	// Type is the message type: "identify", "track", and so on.
	Type string
	// Event is the event name of a track message.
	Event string
	// Err is nil if the API accepted the message. Otherwise it says why
	// the message will not be delivered: an *APIError, a network error,
	// an error matching ErrSpoolLost, the error of the WithOutput writer,
	// or, when Shutdown's context ended first, an error wrapping the
	// context's.
	Err error
}

type config struct {
	endpoint        string
	batchSize       int
	flushInterval   time.Duration
	queueCapacity   int
	queueMaxBytes   int
	maxInFlight     int
	retry           RetryPolicy // every field set
	requestTimeout  time.Duration
	shutdownTimeout time.Duration
	httpClient      *http.Client
	logger          *slog.Logger
	gzip            bool
	strict          bool
	allowHTTP       bool
	callback        func(Result)
	now             func() time.Time
	newID           func() string
	spool           spoolConfig

	// Shaping (transform.go, defaultcontext.go) and the output for
	// development (output.go).
	defaultContext *Context // a copy, read-only
	transforms     []Transform
	output         io.Writer // nil: send to the API
}

func defaultConfig() config {
	return config{
		endpoint:      RegionUS.Endpoint(),
		batchSize:     DefaultBatchSize,
		flushInterval: DefaultFlushInterval,
		queueCapacity: DefaultQueueCapacity,
		queueMaxBytes: DefaultQueueMaxBytes,
		maxInFlight:   DefaultMaxInFlight,
		retry: RetryPolicy{
			MaxAttempts:   DefaultMaxAttempts,
			WaitMin:       DefaultRetryWaitMin,
			WaitMax:       DefaultRetryWaitMax,
			MaxRetryAfter: DefaultMaxRetryAfter,
			MaxTime:       DefaultMaxRetryTime,
		},
		requestTimeout:  DefaultRequestTimeout,
		shutdownTimeout: DefaultShutdownTimeout,
		now:             time.Now,
		strict:          true,
	}
}

func optionError(name, format string, args ...any) error {
	return fmt.Errorf("analytics: %s: %s", name, fmt.Sprintf(format, args...))
}

// WithRegion sends to the API of region r (RegionUS, the default, or
// RegionEU).
func WithRegion(r Region) Option {
	return func(c *config) error {
		ep := r.Endpoint()
		if ep == "" {
			return optionError("WithRegion", "unknown region %q (want %q or %q)", string(r), RegionUS, RegionEU)
		}
		c.endpoint = ep
		return nil
	}
}

// WithEndpoint sends to the API at baseURL instead of a region's: batches are
// POSTed to baseURL + "/batch". A bare host such as
// "https://cdp-eu.customer.io" means "https://cdp-eu.customer.io/v1", as
// Customer.io's other libraries take it, and the batch URL itself
// (".../v1/batch") means its base. The URL must be https, or http for
// a loopback host (localhost, 127.0.0.0/8, ::1); plain http to any other
// host needs WithAllowHTTP. It must not carry credentials, a query or a
// fragment.
func WithEndpoint(baseURL string) Option {
	return func(c *config) error {
		u, err := url.Parse(baseURL)
		if err != nil {
			// Quote the reason, not the URL: a refused URL may hold a
			// secret (credentials, a key in the query), and this
			// error is likely to be logged.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return optionError("WithEndpoint", "malformed URL: %v", err)
		}
		shown := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
		switch {
		case u.Scheme != "http" && u.Scheme != "https":
			return optionError("WithEndpoint", "URL %q must start with https:// or http://", shown)
		case u.Host == "" || u.Hostname() == "":
			return optionError("WithEndpoint", "URL %q has no host", shown)
		case u.User != nil:
			return optionError("WithEndpoint", "URL must not carry credentials; the API key is passed to New")
		case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
			return optionError("WithEndpoint", "URL %q must not have a query or fragment", shown)
		}
		path := strings.TrimRight(u.Path, "/")
		// The batch URL itself, as copied from the API reference, names
		// the same endpoint.
		path = strings.TrimSuffix(path, "/batch")
		if path == "" {
			path = "/v1"
		}
		u.Path, u.RawPath = path, ""
		c.endpoint = u.String()
		return nil
	}
}

// WithAllowHTTP permits a plain http:// endpoint on a host that is not a
// loopback address. The API key then crosses the network in clear text, so
// use it only for a trusted proxy or test network.
func WithAllowHTTP(allow bool) Option {
	return func(c *config) error { c.allowHTTP = allow; return nil }
}

// WithBatchSize sets the most messages sent in one request, from 1 to
// MaxBatchSize (default DefaultBatchSize). A batch is also cut before it
// would exceed MaxBatchBytes.
func WithBatchSize(n int) Option {
	return func(c *config) error {
		if n < 1 || n > MaxBatchSize {
			return optionError("WithBatchSize", "%d is out of range [1, %d]", n, MaxBatchSize)
		}
		c.batchSize = n
		return nil
	}
}

// WithFlushInterval sets how often queued messages are sent when no batch
// has filled up (default DefaultFlushInterval). It must be positive.
func WithFlushInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return optionError("WithFlushInterval", "interval %v must be positive", d)
		}
		c.flushInterval = d
		return nil
	}
}

// WithHTTPClient sends requests with hc instead of a client of the library's
// own. Its Transport, Jar and redirect policy are used; if hc.Timeout is zero
// or larger than the per-attempt timeout (WithRequestTimeout), the
// per-attempt timeout applies. Without a redirect policy (CheckRedirect)
// no redirect is followed, and one is reported as a failed request: the
// API does not redirect, and following one could lose the batch. hc itself
// is never modified.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return optionError("WithHTTPClient", "nil *http.Client")
		}
		c.httpClient = hc
		return nil
	}
}

// WithLogger logs to l instead of slog.Default(). The client logs nothing on
// the happy path above slog.LevelDebug: retries and dropped messages at
// Warn, messages given up at Error. The API key is never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return optionError("WithLogger", "nil *slog.Logger (use slog.New(slog.DiscardHandler) for silence)")
		}
		c.logger = l
		return nil
	}
}

// WithQueueCapacity sets the most messages that may wait to be sent (default
// DefaultQueueCapacity). Beyond it Enqueue returns ErrQueueFull.
func WithQueueCapacity(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return optionError("WithQueueCapacity", "capacity %d must be at least 1", n)
		}
		c.queueCapacity = n
		return nil
	}
}

// WithQueueMaxBytes sets the most encoded bytes that may wait to be sent
// (default DefaultQueueMaxBytes). It must be at least MaxMessageBytes, so
// that any valid message fits into an empty queue.
func WithQueueMaxBytes(n int) Option {
	return func(c *config) error {
		if n < MaxMessageBytes {
			return optionError("WithQueueMaxBytes", "%d bytes is less than MaxMessageBytes (%d)", n, MaxMessageBytes)
		}
		c.queueMaxBytes = n
		return nil
	}
}

// WithMaxInFlight sets how many batches may be sent at once, from 1 to 64
// (default DefaultMaxInFlight). Each is sent by one goroutine of a fixed
// pool.
func WithMaxInFlight(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 64 {
			return optionError("WithMaxInFlight", "%d is out of range [1, 64]", n)
		}
		c.maxInFlight = n
		return nil
	}
}

// RetryPolicy is how the client retries a batch whose request failed with
// a network error, a timeout, or a status it retries (408, 429, and every
// 5xx but 501); see WithRetry. Any other answer is final at once.
type RetryPolicy struct {
	// MaxAttempts is how many times one batch is tried, the first attempt
	// included, from 1 to 100 (default DefaultMaxAttempts). 1 means no
	// retry.
	MaxAttempts int
	// WaitMin and WaitMax bound the exponential backoff between attempts
	// (defaults DefaultRetryWaitMin and DefaultRetryWaitMax): the wait
	// before retry n is drawn at random from [w/2, w] with
	// w = WaitMin·2ⁿ⁻¹, capped at WaitMax, unless the API sent
	// Retry-After.
	WaitMin, WaitMax time.Duration
	// MaxRetryAfter caps the wait a Retry-After header asks for (default
	// DefaultMaxRetryAfter). A longer Retry-After waits this long; one
	// that would end after MaxTime is not waited for.
	MaxRetryAfter time.Duration
	// MaxTime bounds the time one batch may spend being tried, waits
	// included, its halves included when the API refused it as invalid
	// (default DefaultMaxRetryTime). When it runs out, the batch's
	// messages are given up (Stats.FailedRetries).
	MaxTime time.Duration
}

// WithRetry sets how the client retries a batch. A zero field of p leaves
// that setting as it is: its default, or what an earlier option set, so
// WithRetry(RetryPolicy{MaxAttempts: 3}) changes the attempts alone. A
// negative field, or a value out of its range, is an error.
func WithRetry(p RetryPolicy) Option {
	return func(c *config) error {
		if p.MaxAttempts < 0 || p.WaitMin < 0 || p.WaitMax < 0 || p.MaxRetryAfter < 0 || p.MaxTime < 0 {
			return optionError("WithRetry", "negative field in %+v", p)
		}
		r := c.retry
		if p.MaxAttempts != 0 {
			r.MaxAttempts = p.MaxAttempts
		}
		if p.WaitMin != 0 {
			r.WaitMin = p.WaitMin
		}
		if p.WaitMax != 0 {
			r.WaitMax = p.WaitMax
		}
		if p.MaxRetryAfter != 0 {
			r.MaxRetryAfter = p.MaxRetryAfter
		}
		if p.MaxTime != 0 {
			r.MaxTime = p.MaxTime
		}
		if r.MaxAttempts > 100 {
			return optionError("WithRetry", "MaxAttempts %d is out of range [1, 100]", r.MaxAttempts)
		}
		if r.WaitMax < r.WaitMin {
			return optionError("WithRetry", "need WaitMin <= WaitMax, got WaitMin %v, WaitMax %v", r.WaitMin, r.WaitMax)
		}
		c.retry = r
		return nil
	}
}

// WithMaxAttempts sets how many times one batch is tried, first attempt
// included, from 1 to 100 (default DefaultMaxAttempts).
//
// Deprecated: Use WithRetry(RetryPolicy{MaxAttempts: n}).
func WithMaxAttempts(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 100 {
			return optionError("WithMaxAttempts", "%d is out of range [1, 100]", n)
		}
		c.retry.MaxAttempts = n
		return nil
	}
}

// WithRetryWait sets the bounds of the exponential backoff between attempts
// (defaults DefaultRetryWaitMin and DefaultRetryWaitMax).
//
// Deprecated: Use WithRetry(RetryPolicy{WaitMin: min, WaitMax: max}).
func WithRetryWait(min, max time.Duration) Option {
	return func(c *config) error {
		if min <= 0 || max < min {
			return optionError("WithRetryWait", "need 0 < min <= max, got min %v, max %v", min, max)
		}
		c.retry.WaitMin, c.retry.WaitMax = min, max
		return nil
	}
}

// WithMaxRetryAfter caps the wait a Retry-After header asks for (default
// DefaultMaxRetryAfter).
//
// Deprecated: Use WithRetry(RetryPolicy{MaxRetryAfter: d}).
func WithMaxRetryAfter(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return optionError("WithMaxRetryAfter", "%v must be positive", d)
		}
		c.retry.MaxRetryAfter = d
		return nil
	}
}

// WithMaxRetryTime bounds the time one batch may spend being tried, waits
// included (default DefaultMaxRetryTime).
//
// Deprecated: Use WithRetry(RetryPolicy{MaxTime: d}).
func WithMaxRetryTime(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return optionError("WithMaxRetryTime", "%v must be positive", d)
		}
		c.retry.MaxTime = d
		return nil
	}
}

// WithRequestTimeout bounds one HTTP attempt (default
// DefaultRequestTimeout). An attempt that times out is retried.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return optionError("WithRequestTimeout", "%v must be positive", d)
		}
		c.requestTimeout = d
		return nil
	}
}

// WithShutdownTimeout sets how long Close waits for queued and in-flight
// messages to be delivered (default DefaultShutdownTimeout).
func WithShutdownTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return optionError("WithShutdownTimeout", "%v must be positive", d)
		}
		c.shutdownTimeout = d
		return nil
	}
}

// WithStrictMode sets whether requests carry the header X-Strict-Mode: 1
// (default on). In strict mode the API answers a request holding an
// invalid call with 400 (and a wrong key with 401), and the client isolates
// the invalid calls by sending the halves of the batch (see Stats
// BisectedRequests), so that only they are reported lost. With strict mode
// off the API answers 200 even for calls it drops after logging them: a
// 200 then means only that the request was received.
func WithStrictMode(enabled bool) Option {
	return func(c *config) error { c.strict = enabled; return nil }
}

// WithGzip compresses request bodies with gzip, at gzip.BestSpeed, when
// enabled (default off).
// The size limits apply to the uncompressed body.
func WithGzip(enabled bool) Option {
	return func(c *config) error { c.gzip = enabled; return nil }
}

// WithCallback calls fn once with the final outcome of every message that
// Enqueue accepted: delivered, refused by the API, given up after retries,
// lost by the spool, not written to the WithOutput writer, or abandoned
// when Shutdown's context ended. A message the spool sends again
// (WithSpool) gets its call at its final outcome only.
//
// fn is called, for the messages of one batch in order, after the batch
// is done:
//   - from the sender goroutines, several at once (up to WithMaxInFlight);
//   - with WithOutput, from the one goroutine that writes the output;
//   - for a batch that Shutdown's ended context kept from the senders, from
//     the batcher goroutine.
//
// So fn must be safe for concurrent use and return quickly: a slow fn
// delays the batches after it. It must not call Flush, Shutdown or Close on
// the same client. A panic in fn is logged and recovered; the other
// messages of the batch are still reported.
func WithCallback(fn func(Result)) Option {
	return func(c *config) error {
		if fn == nil {
			return optionError("WithCallback", "nil function")
		}
		c.callback = fn
		return nil
	}
}

// WithTimestamps makes the client read the time it writes into messages
// from now instead of time.Now: the timestamp of a message that has none
// (and of its spool record), and the sentAt of every request. With
// WithMessageIDs it makes what the client sends deterministic, for tests
// and golden files; now must be safe for concurrent use.
//
// It drives no timer: the flush interval, retry waits, timeouts and the
// spool's fsyncs run on the real clock. In tests, testing/synctest
// controls those.
func WithTimestamps(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return optionError("WithTimestamps", "nil function")
		}
		c.now = now
		return nil
	}
}

// WithClock is WithTimestamps.
//
// Deprecated: Use WithTimestamps. The name promised a clock for the
// client's timers too, which it never was; testing/synctest controls those.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return optionError("WithClock", "nil function")
		}
		c.now = now
		return nil
	}
}

// WithMessageIDs makes the client take the messageId of messages that have
// none from next instead of a random UUID. It is meant for deterministic
// tests; next must be safe for concurrent use.
func WithMessageIDs(next func() string) Option {
	return func(c *config) error {
		if next == nil {
			return optionError("WithMessageIDs", "nil function")
		}
		c.newID = next
		return nil
	}
}

func (c *config) check() error {
	u, err := url.Parse(c.endpoint)
	if err != nil {
		return optionError("WithEndpoint", "malformed URL: %v", err)
	}
	if u.Scheme == "http" && !c.allowHTTP && !isLoopback(u.Hostname()) {
		return optionError("WithEndpoint", "plain http to non-loopback host %q would send the API key in clear text; use https or WithAllowHTTP(true)", u.Hostname())
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return checkDefaultContext(c.defaultContext)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var errEmptyKey = errors.New("analytics: New: empty API key")
