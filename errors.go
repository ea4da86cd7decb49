package analytics

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Errors returned by Enqueue and the other methods of Client. Test for them
// with errors.Is.
var (
	// ErrClosed is returned by Enqueue, EnqueueContext and Flush once
	// Shutdown or Close has begun, and by those methods of a nil *Client
	// (whose Shutdown and Close do nothing and return nil).
	ErrClosed = errors.New("analytics: client is closed")

	// ErrQueueFull is returned by Enqueue when the queue already holds its
	// capacity in messages or bytes (see WithQueueCapacity and
	// WithQueueMaxBytes). The message was not queued. Such drops are
	// counted in Stats.DroppedQueueFull.
	ErrQueueFull = errors.New("analytics: queue is full")

	// ErrMessageTooLarge is returned by Enqueue when a message encodes to
	// more than MaxMessageBytes. The API would accept it with 200 and
	// silently drop it, so the client never sends it.
	ErrMessageTooLarge = errors.New("analytics: message too large")

	// ErrInvalidMessage matches (with errors.Is) every *ValidationError.
	ErrInvalidMessage = errors.New("analytics: invalid message")
)

// ValidationError reports a message that Enqueue rejected before queueing
// it. Field names the offending field with its wire name, as a path such as
// "userId" or "properties.products[1].price". errors.Is(err,
// ErrInvalidMessage) is true for every ValidationError.
type ValidationError struct {
	// Type is the message type: "identify", "track", and so on.
	Type string
	// Event is the event name of a track message, if known.
	Event string
	// Field is the wire path of the offending field.
	Field string
	// Reason says what is wrong with it.
	Reason string
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("analytics: invalid ")
	if e.Type != "" {
		b.WriteString(e.Type)
	} else {
		b.WriteString("message")
	}
	if e.Event != "" {
		b.WriteString(" ")
		b.WriteString(strconv.Quote(e.Event))
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Is reports whether target is ErrInvalidMessage.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidMessage }

// APIError is the answer of the API to a request that did not succeed: a
// status the client does not retry (such as 400 or 401), or the last answer
// of a request whose retries ran out.
type APIError struct {
	// StatusCode is the HTTP status of the last answer.
	StatusCode int
	// Body is the start of the response body (at most 512 bytes), for
	// diagnosis.
	Body string
	// Retryable reports whether the status is one the client retries; if
	// so, the request failed because its retries ran out.
	Retryable bool
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("analytics: API answered %d", e.StatusCode)
	if e.Retryable {
		msg += " (retries exhausted)"
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// DeliveryError is returned by Flush, Shutdown and Close when messages were
// not delivered. It counts:
//   - for Flush, the messages not delivered among those it waited for, but
//     those that a Flush finished before it began already reported;
//   - for Shutdown and Close, the messages not delivered that no Flush
//     finished before Shutdown began had reported. A repeated Shutdown or
//     Close returns the first Shutdown's result again.
//
// So every loss is reported at least once, and concurrent callers each
// learn of the losses they waited for. Every loss is also counted in Stats,
// logged, and passed to the WithCallback function.
type DeliveryError struct {
	// Undelivered is the number of messages that will not be delivered.
	Undelivered int64
	// Err is the cause of the most recent loss, such as an *APIError, a
	// network error, or a context error when Shutdown's context ended
	// first. It may be nil.
	Err error
}

func (e *DeliveryError) Error() string {
	noun := "messages"
	if e.Undelivered == 1 {
		noun = "message"
	}
	msg := fmt.Sprintf("analytics: %d %s not delivered", e.Undelivered, noun)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause of the most recent loss.
func (e *DeliveryError) Unwrap() error { return e.Err }
