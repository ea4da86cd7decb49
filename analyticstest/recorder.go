package analyticstest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Limits of the Data Pipelines API as the fake enforces them. The API
// documents "32KB" per call and "500KB" per batch request and answers 200
// while silently dropping anything larger; these are the smaller readings
// of those limits, which a correct client stays under.
const (
	// MaxMessageBytes is the largest JSON encoding of one message, in
	// bytes, that the fake accepts.
	MaxMessageBytes = 32_000
	// MaxRequestBytes is the largest request body, in bytes after gzip
	// decoding, that the fake accepts.
	MaxRequestBytes = 500_000
)

// Request is one HTTP request the fake received, whatever became of it.
type Request struct {
	// Index is the request's position in Requests().
	Index int
	// Time is when the request arrived.
	Time time.Time

	Method string
	Path   string
	// URL is the URL the request was sent to, such as
	// "https://cdp-eu.customer.io/v1/batch" through a Transport (which
	// answers whatever the host) or "http://127.0.0.1:41234/v1/batch" on
	// a Server: a test of which endpoint its code chose reads it here.
	URL string
	// Header holds all request headers.
	Header http.Header
	// APIKey is the basic-auth user name ("" when there was none).
	APIKey string
	// Gzip reports whether the body was sent with Content-Encoding: gzip.
	Gzip bool
	// WireSize is the body's size as sent; BodySize its size after gzip
	// decoding, which is what MaxRequestBytes applies to.
	WireSize, BodySize int
	// Body is the decoded request body.
	Body []byte

	// SentAt is the batch's "sentAt" (zero when absent).
	SentAt time.Time
	// Messages holds every message of the batch, accepted or not.
	Messages []Message

	// Status is the HTTP status the fake answered with, or 0 when it gave
	// no answer: the connection was closed, reset or refused on purpose
	// (Response.CloseConnection, Reset, Refuse), or the client gave up,
	// or the fake shut down, while the answer was delayed
	// (Response.Delay, Hang, Hold).
	Status int
	// Canceled reports that the request's context ended (or the fake shut
	// down) while its answer was delayed.
	Canceled bool
	// Accepted reports whether the request's messages were counted as
	// received (see Recorder.Messages): it is true when the request was
	// answered with a 2xx status and broke no rule.
	Accepted bool
	// Violations lists the rules this request broke.
	Violations []Violation
}

func (r Request) clone() Request {
	r.Header = r.Header.Clone()
	r.Body = append([]byte(nil), r.Body...)
	r.Messages = cloneMessages(r.Messages)
	r.Violations = append([]Violation(nil), r.Violations...)
	return r
}

// ViolationKind names a rule of the wire protocol.
type ViolationKind string

// The rules the fake checks. Except where noted a violation is answered
// with the status named here; the limits are answered as the real API
// answers them, with the scripted response (200 by default), but the
// request's messages are not accepted.
const (
	ViolationMethod          ViolationKind = "method"            // not POST: 405
	ViolationPath            ViolationKind = "path"              // not /v1/batch: 404
	ViolationAuth            ViolationKind = "auth"              // no basic auth, empty user or non-empty password: 401
	ViolationEncoding        ViolationKind = "encoding"          // Content-Encoding not gzip/identity, or corrupt gzip: 415 or 400
	ViolationContentType     ViolationKind = "content-type"      // Content-Type not application/json: answered normally
	ViolationMalformed       ViolationKind = "malformed"         // body not {"batch":[...]} with at least one message, or bad sentAt: 400
	ViolationInvalidMessage  ViolationKind = "invalid-message"   // a call the API refuses (see below): 400 with X-Strict-Mode: 1, else answered normally
	ViolationMessageTooLarge ViolationKind = "message-too-large" // a message over MaxMessageBytes: 400 with X-Strict-Mode: 1, else answered normally
	ViolationRequestTooLarge ViolationKind = "request-too-large" // a decoded body over MaxRequestBytes: 400 with X-Strict-Mode: 1, else answered normally
)

// A call the API refuses (ViolationInvalidMessage) is one that is not a
// JSON object, has no or an unknown type or a field of the wrong JSON
// type, or breaks a rule of its type: a track without event; a call other
// than a group that names no person (neither userId nor anonymousId, and
// for an identify no traits.email either); a group without groupId; an
// alias without previousId or userId; a timestamp that is not RFC 3339.
// Blank strings count as absent. The Journeys check (ViolationJourneys)
// goes beyond the API.

// Violation is a rule of the wire protocol that a request broke.
type Violation struct {
	Kind ViolationKind
	// Request is the index, in Requests(), of the offending request.
	Request int
	// Message is the index in the batch of the offending message, or -1
	// when the violation is about the whole request.
	Message int
	// Field is the path of the offending field in the message, such as
	// "event" or "context.device.token", when the violation is about one.
	Field string
	// Detail says what was wrong, for people.
	Detail string
}

// String describes the violation, for example
// "request 3, message 0: message-too-large: 32017 bytes, limit 32000".
func (v Violation) String() string {
	where := fmt.Sprintf("request %d", v.Request)
	if v.Message >= 0 {
		where += fmt.Sprintf(", message %d", v.Message)
	}
	return fmt.Sprintf("%s: %s: %s", where, v.Kind, v.Detail)
}

// Response is how the fake answers one request; see Recorder.Script and
// Recorder.SetDefault. The zero Response answers 200 with the body "{}".
type Response struct {
	// Status is the HTTP status code; 0 means 200.
	Status int
	// RetryAfter, when not empty, is sent verbatim as the Retry-After
	// header, so both forms can be tested: "2" or
	// "Wed, 21 Oct 2026 07:28:00 GMT".
	RetryAfter string
	// Delay holds the answer back this long. The wait ends early when the
	// request's context ends (a client timeout) or the fake shuts down;
	// then no answer is given and the request is recorded as Canceled.
	Delay time.Duration
	// CloseConnection drops the connection without answering, as a
	// network failure would (the request is recorded with Status 0 and
	// is not accepted). On a Transport, RoundTrip returns an error.
	CloseConnection bool
	// Hang never answers: the request is held until its context ends (a
	// client timeout or cancelation) or the fake shuts down, and is then
	// recorded as Canceled, as with an endless Delay.
	Hang bool
	// Hold, when not nil, holds the answer until Hold is closed (a
	// stalled API that recovers; the answer is then given as scripted),
	// or until the request's context ends or the fake shuts down (then
	// recorded as Canceled). A value sent on Hold releases one held
	// request, so a test can let requests through one at a time:
	//
	//	tokens := make(chan struct{})
	//	srv.SetDefault(analyticstest.Response{Hold: tokens})
	//	tokens <- struct{}{} // the first request held is answered
	//
	// It applies after Delay.
	Hold <-chan struct{}
	// Reset drops the connection with a TCP reset instead of a clean
	// close once the request has been read, as a crashed proxy would. On
	// a Transport, RoundTrip returns an error saying so.
	Reset bool
	// Refuse fails the attempt as a connection to an API that is not
	// listening fails (an API down, a wrong port). On a Transport,
	// RoundTrip returns the error net/http returns then, a *net.OpError
	// wrapping syscall.ECONNREFUSED. A Server has accepted the
	// connection already, so it answers as with Reset. Either way the
	// request is recorded with Status 0 and is not accepted.
	Refuse bool
	// Body is the response body; "" means "{}". It is sent with
	// Content-Type: application/json.
	Body string
}

// Recorder holds what a fake received and decides how it answers. Server
// and Transport embed one, so its methods are called on them directly:
// srv.Messages(), tr.Script(...). All methods are safe for concurrent use,
// and everything they return is a copy. A Recorder is obtained from
// NewServer or NewTransport; the zero value is not usable.
type Recorder struct {
	t          testing.TB
	apiKey     string
	allow      bool
	noJourneys bool                // WithJourneysCheck(false)
	rule       func(Message) error // WithMessageRule

	// mu guards everything below it; it is held only to read or record,
	// never while a request is delayed, held or answered.
	mu         sync.Mutex
	requests   []Request
	messages   []Message
	violations []Violation
	script     []Response
	def        Response
	changed    chan struct{} // closed and replaced whenever something is recorded
	closed     bool
	done       chan struct{}  // closed by close
	inflight   sync.WaitGroup // requests being handled
}

// Option configures a Server or a Transport.
type Option func(*Recorder)

// WithAPIKey makes the fake accept only this API key (the basic-auth user
// name); a request with another key is answered 401 and recorded, but is
// not a violation, so a test can exercise how a client handles a rejected
// key. By default any non-empty key is accepted. An empty key restores the
// default.
func WithAPIKey(key string) Option {
	return func(r *Recorder) { r.apiKey = key }
}

// WithViolationsAllowed stops the fake from failing the test when a request
// breaks a rule of the wire protocol. Violations are still recorded and
// answered as usual; use it in tests that send bad requests on purpose and
// check Violations().
func WithViolationsAllowed() Option {
	return func(r *Recorder) { r.allow = true }
}

// WithMessageRule adds a rule of the test's own to the fake's checks of
// each message: a message for which rule returns an error is invalid, as
// one the API's checks refuse would be (a ViolationInvalidMessage, and in
// strict mode a 400 for its request). Use it to make chosen messages
// invalid, for example to test how a client isolates them. rule must be
// safe for concurrent use.
func WithMessageRule(rule func(Message) error) Option {
	return func(r *Recorder) { r.rule = rule }
}

func newRecorder(t testing.TB, opts []Option) *Recorder {
	r := &Recorder{t: t, changed: make(chan struct{}), done: make(chan struct{})}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Script queues responses for the next requests, one each, in order; they
// are appended to any responses still queued. Once the queue is empty the
// default response (see SetDefault) is used again.
//
// Only requests that pass the fake's checks of method, path, credentials
// and body format take a scripted response; requests that fail them are
// answered with the error status instead (see ViolationKind).
func (r *Recorder) Script(responses ...Response) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.script = append(r.script, responses...)
}

// SetDefault sets the response given when no scripted response is queued,
// for example Response{Status: 503} for an API that is always down. The
// initial default is Response{}: 200 with the body "{}".
func (r *Recorder) SetDefault(resp Response) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.def = resp
}

// nextResponse takes the next scripted response, or the default.
func (r *Recorder) nextResponse() Response {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.script) > 0 {
		resp := r.script[0]
		r.script = r.script[1:]
		return resp
	}
	return r.def
}

// Requests returns every request received so far, in order of completion,
// including those answered with an error status or not answered at all.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Request, len(r.requests))
	for i, req := range r.requests {
		out[i] = req.clone()
	}
	return out
}

// Messages returns the messages received so far, in order. It counts only
// messages the fake accepted, that is, those of requests answered with a
// 2xx status that broke no rule (Request.Accepted). A message the client
// sent again after a 500 therefore appears once; all messages of every
// request can be read from Requests().
func (r *Recorder) Messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return cloneMessages(r.messages)
}

// Violations returns the rule violations seen so far, in order.
func (r *Recorder) Violations() []Violation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Violation(nil), r.violations...)
}

// Find returns the accepted messages for which match returns true.
func (r *Recorder) Find(match func(Message) bool) []Message {
	var out []Message
	for _, m := range r.Messages() {
		if match(m) {
			out = append(out, m)
		}
	}
	return out
}

// ByType returns the accepted messages of one type, such as TypeTrack.
func (r *Recorder) ByType(typ string) []Message {
	return r.Find(func(m Message) bool { return m.Type == typ })
}

// ByEvent returns the accepted track messages with this event name.
func (r *Recorder) ByEvent(event string) []Message {
	return r.Find(func(m Message) bool { return m.Type == TypeTrack && m.Event == event })
}

// ByUser returns the accepted messages whose userId is id.
func (r *Recorder) ByUser(id string) []Message {
	return r.Find(func(m Message) bool { return m.UserID == id })
}

// Reset forgets every request, message and violation recorded so far.
// Scripted responses and the default response are kept.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests, r.messages, r.violations = nil, nil, nil
}

// WaitForMessages waits until at least n messages have been accepted and
// returns all accepted messages. If ctx ends first it returns what has been
// accepted so far and an error that wraps ctx.Err() and summarises what the
// fake saw.
func (r *Recorder) WaitForMessages(ctx context.Context, n int) ([]Message, error) {
	err := r.wait(ctx, func() bool { return len(r.messages) >= n }, fmt.Sprintf("%d messages", n))
	return r.Messages(), err
}

// WaitForRequests waits until at least n requests have been received
// (answered or not) and returns them all. If ctx ends first it returns what
// has been received so far and an error that wraps ctx.Err().
func (r *Recorder) WaitForRequests(ctx context.Context, n int) ([]Request, error) {
	err := r.wait(ctx, func() bool { return len(r.requests) >= n }, fmt.Sprintf("%d requests", n))
	return r.Requests(), err
}

// wait blocks until cond, called with r.mu held, is true or ctx ends.
func (r *Recorder) wait(ctx context.Context, cond func() bool, what string) error {
	for {
		r.mu.Lock()
		if cond() {
			r.mu.Unlock()
			return nil
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			r.mu.Lock()
			defer r.mu.Unlock()
			if cond() {
				return nil
			}
			return fmt.Errorf("analyticstest: waiting for %s: %w; %s", what, ctx.Err(), r.summaryLocked())
		}
	}
}

// summaryLocked describes what was received, for error messages.
func (r *Recorder) summaryLocked() string {
	var b strings.Builder
	fmt.Fprintf(&b, "got %d accepted messages", len(r.messages))
	const maxListed = 10
	if len(r.messages) > 0 {
		b.WriteString(" [")
		for i, m := range r.messages {
			if i == maxListed {
				b.WriteString(", ...")
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(m.String())
		}
		b.WriteString("]")
	}
	fmt.Fprintf(&b, " in %d requests", len(r.requests))
	if len(r.requests) > 0 {
		b.WriteString(" answered [")
		for i, req := range r.requests {
			if i == maxListed {
				b.WriteString(" ...")
				break
			}
			if i > 0 {
				b.WriteString(" ")
			}
			switch {
			case req.Canceled:
				b.WriteString("canceled")
			case req.Status == 0:
				b.WriteString("closed")
			default:
				fmt.Fprint(&b, req.Status)
			}
		}
		b.WriteString("]")
	}
	fmt.Fprintf(&b, ", %d violations", len(r.violations))
	return b.String()
}

// record stores a finished request and reports its violations.
func (r *Recorder) record(req Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	req.Index = len(r.requests)
	for i := range req.Messages {
		req.Messages[i].Request = req.Index
	}
	for i := range req.Violations {
		req.Violations[i].Request = req.Index
	}
	r.requests = append(r.requests, req)
	if req.Accepted {
		r.messages = append(r.messages, cloneMessages(req.Messages)...)
	}
	r.violations = append(r.violations, req.Violations...)
	if !r.allow && r.t != nil {
		for _, v := range req.Violations {
			r.t.Errorf("analyticstest: %s", v)
		}
	}
	close(r.changed)
	r.changed = make(chan struct{})
}

// begin registers a request being handled; it returns false once the
// Recorder is closed. Every successful begin must be matched by end.
func (r *Recorder) begin() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.inflight.Add(1)
	return true
}

func (r *Recorder) end() { r.inflight.Done() }

// close ends delayed answers, makes later requests fail and waits for the
// requests being handled, so that nothing is reported to the test after it
// ends. It is safe to call more than once.
func (r *Recorder) close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.done)
	}
	r.mu.Unlock()
	r.inflight.Wait()
}

func cloneMessages(ms []Message) []Message {
	if ms == nil {
		return nil
	}
	out := make([]Message, len(ms))
	for i, m := range ms {
		out[i] = m.clone()
	}
	return out
}
