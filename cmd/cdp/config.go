package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	analytics "github.com/cdpkit/analytics-go"
)

// connFlags are the flags of every command that sends: where to send and
// with which key.
type connFlags struct {
	region   string
	endpoint string
	keyFile  string
	verbose  bool
	json     bool
	// The retry policy: how long one batch may be retried (waits for
	// Retry-After included), and how many attempts it gets.
	maxRetryTime time.Duration
	maxAttempts  int
}

// Retry defaults. A single call keeps the library's, made for a request
// path; the commands that send files default to far more patience, so
// that a back-fill waits out a long 429 or an outage rather than stop.
const (
	batchMaxRetryTime = 30 * time.Minute
	batchMaxAttempts  = 100
)

// register registers the flags on fs; batch says the command sends files
// (its retry defaults are batchMaxRetryTime and batchMaxAttempts).
func (c *connFlags) register(fs *flag.FlagSet, batch bool) {
	retryTime, attempts := analytics.DefaultMaxRetryTime, analytics.DefaultMaxAttempts
	if batch {
		retryTime, attempts = batchMaxRetryTime, batchMaxAttempts
	}
	fs.DurationVar(&c.maxRetryTime, "max-retry-time", retryTime, "how long one batch may be retried, waits for the API's Retry-After included, before it counts as not delivered")
	fs.IntVar(&c.maxAttempts, "max-attempts", attempts, "how many times one batch is tried, 1 to 100")
	fs.StringVar(&c.region, "region", "us", "the `region` of the workspace: us or eu (any case)")
	fs.StringVar(&c.endpoint, "endpoint", "", "send to this API base `URL` instead of the region's, such as https://cdp-eu.customer.io/v1")
	fs.StringVar(&c.keyFile, "key-file", "", "read the API key from this `file` instead of $CDP_API_KEY")
	fs.BoolVar(&c.verbose, "verbose", false, "log each batch and retry")
	fs.BoolVar(&c.json, "json", false, "print the outcome as one JSON object on stdout")
}

// apiKey returns the key from --key-file or CDP_API_KEY. Its errors never
// contain the key.
func (c *connFlags) apiKey(e *env) (string, error) {
	if c.keyFile != "" {
		data, err := os.ReadFile(c.keyFile)
		if err != nil {
			// Not the path: it may be the key itself, given by mistake.
			var pathErr *fs.PathError
			if errors.As(err, &pathErr) {
				err = pathErr.Err
			}
			return "", fmt.Errorf("--key-file: cannot read the file: %w", err)
		}
		key := strings.TrimSpace(string(data))
		if key == "" {
			return "", fmt.Errorf("--key-file: %s is empty", c.keyFile)
		}
		return key, nil
	}
	key := strings.TrimSpace(e.getenv("CDP_API_KEY"))
	if key == "" {
		return "", errors.New("no API key: set CDP_API_KEY, or name a file holding it with --key-file")
	}
	return key, nil
}

// options returns the client options for these flags, sending at most
// rate requests per second (0: no limit), or nothing at all for a dry run.
// Strict mode and the retry policy are the library's defaults.
func (c *connFlags) options(e *env, rate float64, dryRun bool) ([]analytics.Option, error) {
	var opts []analytics.Option
	switch strings.ToLower(c.region) {
	case "us":
		opts = append(opts, analytics.WithRegion(analytics.RegionUS))
	case "eu":
		opts = append(opts, analytics.WithRegion(analytics.RegionEU))
	default:
		return nil, fmt.Errorf("--region: %q is not us or eu", c.region)
	}
	if c.endpoint != "" {
		if err := checkEndpoint(c.endpoint); err != nil {
			return nil, err
		}
		opts = append(opts, analytics.WithEndpoint(c.endpoint))
	}
	// The command reports every outcome itself; the library's log lines
	// (which name its options, not the command's flags) are shown only
	// with --verbose, in the command's words.
	logger := slog.New(slog.DiscardHandler)
	if c.verbose {
		logger = slog.New(cliLogHandler{slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelDebug})})
	}
	opts = append(opts, analytics.WithLogger(logger),
		analytics.WithRetry(analytics.RetryPolicy{
			MaxTime:     c.maxRetryTime,
			MaxAttempts: c.maxAttempts,
			// A Retry-After is waited out for as long as the retry
			// time allows.
			MaxRetryAfter: c.maxRetryTime,
		}))
	rt := e.transport
	if rt == nil {
		rt = http.DefaultTransport.(*http.Transport).Clone()
	}
	switch {
	case dryRun:
		rt = dryRunTransport{}
	case rate > 0:
		rt = newRateLimiter(rt, rate)
	}
	opts = append(opts, analytics.WithHTTPClient(&http.Client{Transport: rt}))
	return opts, nil
}

// checkEndpoint refuses an --endpoint the library would refuse, in the
// command's words: a URL that does not parse, or plain http to a host that
// is not loopback, which would send the key in clear text.
func checkEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("--endpoint: %q is not an http or https URL such as https://cdp-eu.customer.io/v1", endpoint)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("--endpoint: plain http to %s would send the API key in clear text; use https (plain http goes to loopback addresses only)", u.Hostname())
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// cliWords rewrites the library's names of its options in s into the
// command's flags.
var cliWords = strings.NewReplacer(
	"WithRegion", "--region",
	"WithEndpoint", "--endpoint",
	"WithBatchSize", "--batch-size",
	"WithMaxInFlight", "--workers",
	"the client's region", "--region",
).Replace

// libraryError returns err, an error of the library, in the command's
// words.
func libraryError(err error) error {
	return errors.New(cliWords(trimLibraryPrefix(err.Error())))
}

// cliLogHandler writes the library's log records (--verbose) in the
// command's words.
type cliLogHandler struct{ slog.Handler }

func (h cliLogHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, cliWords(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Value.Kind() == slog.KindString {
			a.Value = slog.StringValue(cliWords(a.Value.String()))
		}
		out.AddAttrs(a)
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h cliLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return cliLogHandler{h.Handler.WithAttrs(as)}
}

func (h cliLogHandler) WithGroup(name string) slog.Handler {
	return cliLogHandler{h.Handler.WithGroup(name)}
}

// dryRunTransport answers every request 200 without sending it: with
// --dry-run the library validates and encodes every message as usual, and
// nothing leaves the machine.
type dryRunTransport struct{}

func (dryRunTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusOK,
		Status:     "200 OK",
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       http.NoBody,
		Request:    req,
		ProtoMajor: 1, ProtoMinor: 1, Proto: "HTTP/1.1",
	}, nil
}

// sendFlags are the flags of the commands that send files.
type sendFlags struct {
	conn       connFlags
	bad        string
	checkpoint string
	dryRun     bool
	rate       float64
	workers    int
	batchSize  int
	decoders   int
	quiet      bool
}

func (s *sendFlags) register(fs *flag.FlagSet) {
	s.conn.register(fs, true)
	fs.StringVar(&s.bad, "bad", "", "write each invalid or undelivered line to this `file` (NDJSON: file, line, reason, input)")
	fs.StringVar(&s.checkpoint, "checkpoint", "", "record progress in this `file`; a re-run with it resumes where delivery stopped")
	fs.BoolVar(&s.dryRun, "dry-run", false, "validate every line and report, sending nothing")
	fs.Float64Var(&s.rate, "rate", DefaultRate, "send at most `N` requests per second, retries included (0: no limit); the API allows 3,000 per 3 seconds")
	fs.IntVar(&s.workers, "workers", analytics.DefaultMaxInFlight, "batches sent at once, 1 to 64; a re-run after a kill sends again the lines past the checkpoint that had been sent (with --workers 1 and --decoders 1, the batch in flight and one answered during the last save at most)")
	fs.IntVar(&s.batchSize, "batch-size", analytics.DefaultBatchSize, "most messages per request, 1 to 10,000 (requests stay under 500 KB whatever the count)")
	fs.IntVar(&s.decoders, "decoders", defaultDecoders(), "lines decoded at once, 1 to 256 (default: one per CPU)")
	fs.BoolVar(&s.quiet, "quiet", false, "show no progress")
}

// check checks the flags of a command that sends files.
func (s *sendFlags) check() error {
	if err := s.conn.check(); err != nil {
		return err
	}
	switch {
	case s.decoders < 1 || s.decoders > 256:
		return fmt.Errorf("--decoders: %d is not between 1 and 256", s.decoders)
	case s.workers < 1 || s.workers > 64:
		return fmt.Errorf("--workers: %d is not between 1 and 64", s.workers)
	case s.batchSize < 1 || s.batchSize > analytics.MaxBatchSize:
		return fmt.Errorf("--batch-size: %d is not between 1 and %d", s.batchSize, analytics.MaxBatchSize)
	case s.rate < 0:
		return fmt.Errorf("--rate: %v is negative", s.rate)
	case s.rate > 0 && float64(s.workers)/s.rate > maxRateWait.Seconds():
		// Each worker has one request at a time, so a request waits at
		// most workers/rate seconds for its turn, and that wait counts
		// against the request's timeout.
		most := int(s.rate * maxRateWait.Seconds())
		if most < 1 {
			return fmt.Errorf("--rate %v: a request would wait %.0fs for its turn, more than the %v its timeout allows; use a --rate of at least %.2f",
				s.rate, 1/s.rate, maxRateWait, 1/maxRateWait.Seconds())
		}
		return fmt.Errorf("--rate %v with --workers %d: a request could wait %.0fs for its turn, more than the %v its timeout allows; use --workers %d or fewer, or a higher --rate",
			s.rate, s.workers, float64(s.workers)/s.rate, maxRateWait, most)
	case s.dryRun && s.checkpoint != "":
		return errors.New("--dry-run sends nothing, so it has no progress to record in --checkpoint")
	}
	return nil
}

// check checks the flags every command that sends has.
func (c *connFlags) check() error {
	switch {
	case c.maxRetryTime <= 0:
		return fmt.Errorf("--max-retry-time: %v is not positive", c.maxRetryTime)
	case c.maxAttempts < 1 || c.maxAttempts > 100:
		return fmt.Errorf("--max-attempts: %d is not between 1 and 100", c.maxAttempts)
	}
	return nil
}

// maxRateWait is the longest a request may wait for its turn under --rate:
// two thirds of the library's request timeout, which the wait counts
// against, leaving the rest (5 s) for the request itself.
const maxRateWait = analytics.DefaultRequestTimeout * 2 / 3

// shutdownTimeout bounds the final Shutdown of a command's client; every
// message has had its outcome by then.
const shutdownTimeout = 10 * time.Second
