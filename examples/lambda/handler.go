package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	analytics "github.com/cdpkit/analytics-go"
)

// Defaults of Handler.
const (
	// DefaultHeadroom is the time left between the end of Flush and the
	// invocation's deadline, for the handler to return its result.
	DefaultHeadroom = 500 * time.Millisecond
	// DefaultFlushTimeout bounds Flush when the invocation's context has
	// no deadline (Lambda always sets one; tests and other runtimes may
	// not).
	DefaultFlushTimeout = 2 * time.Second
)

// Event is the function's input: an order that a checkout service
// completed.
type Event struct {
	UserID  string  `json:"userId"`
	OrderID string  `json:"orderId"`
	Total   float64 `json:"total"`
}

// Response is the function's output.
type Response struct {
	OrderID string `json:"orderId"`
	// Pending counts this environment's messages still queued or being
	// sent when the handler returned: zero unless Flush ran out of time.
	Pending int64 `json:"pending"`
}

// Handler handles one invocation. Its Client is created once per execution
// environment, at cold start, and shared by every invocation that
// environment serves; the handler never closes it.
//
// Handle has the shape the Lambda Go runtime takes,
// func(context.Context, TIn) (TOut, error), so a deployed function's main
// is
//
//	lambda.Start(h.Handle) // github.com/aws/aws-lambda-go/lambda
type Handler struct {
	// Client sends the function's messages.
	Client *analytics.Client
	// Headroom is kept free between the end of Flush and the invocation's
	// deadline. Zero means DefaultHeadroom.
	Headroom time.Duration
	// FlushTimeout bounds Flush when ctx has no deadline. Zero means
	// DefaultFlushTimeout.
	FlushTimeout time.Duration
	// Logger receives a warning when messages were not delivered by the
	// time the handler returns. Nil means slog.Default().
	Logger *slog.Logger
}

// Handle records the order as an Order Completed event and flushes the
// client before it returns, because Lambda freezes the process as soon as
// the handler returns: nothing sent in the background would go out until
// the next invocation thaws it.
//
// Flush is given until the invocation's deadline less Headroom. When it
// does not finish in time, or the API refuses messages, Handle logs a
// warning and still returns its result without an error: the order itself
// was handled, and an error would make Lambda retry an asynchronous
// invocation, running the order's work and its events a second time.
// Messages still queued or being retried stay in the client and go out
// during the next invocation of this environment; they are lost if Lambda
// reclaims the environment first.
func (h *Handler) Handle(ctx context.Context, ev Event) (Response, error) {
	if ev.UserID == "" {
		return Response{}, errors.New("lambda: event: userId is empty")
	}
	if ev.OrderID == "" {
		return Response{}, errors.New("lambda: event: orderId is empty")
	}

	// ... the function's own work on the order would be here ...

	err := h.Client.Enqueue(analytics.OrderCompleted{
		UserID:  ev.UserID,
		OrderID: ev.OrderID,
		Total:   analytics.Ptr(ev.Total),
	})
	switch {
	case errors.Is(err, analytics.ErrInvalidMessage):
		return Response{}, fmt.Errorf("lambda: %w", err) // a bug in this function
	case err != nil:
		h.logger().WarnContext(ctx, "analytics: event not enqueued", "order", ev.OrderID, "error", err)
	}

	flushCtx, cancel := h.flushContext(ctx)
	defer cancel()
	if err := h.Client.Flush(flushCtx); err != nil {
		st := h.Client.Stats()
		h.logger().WarnContext(ctx, "analytics: not everything was delivered before the deadline",
			"error", err, "queued", st.Queued, "in_flight", st.InFlight)
	}
	st := h.Client.Stats()
	return Response{OrderID: ev.OrderID, Pending: st.Queued + st.InFlight}, nil
}

// flushContext returns the context Flush runs under: ctx's deadline less
// the headroom, or FlushTimeout from now when ctx has no deadline.
func (h *Handler) flushContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if deadline, ok := ctx.Deadline(); ok {
		headroom := h.Headroom
		if headroom <= 0 {
			headroom = DefaultHeadroom
		}
		return context.WithDeadline(ctx, deadline.Add(-headroom))
	}
	timeout := h.FlushTimeout
	if timeout <= 0 {
		timeout = DefaultFlushTimeout
	}
	return context.WithTimeout(ctx, timeout)
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}
