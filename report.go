package analytics

import (
	"context"
	"fmt"
)

// This file reports the outcome of every batch, sent or not, to the spool,
// the logger, the WithCallback function, the counters and the barrier of
// Flush and Shutdown. The rules it applies are in outcome.go. Batches
// reach it from the sender goroutines (send.go), the output goroutine
// (output.go) and, for batches Shutdown abandons before a sender takes
// them, the batcher goroutine (batch.go).

// abandoned is the error of a message abandoned when Shutdown's context
// ended.
func (c *Client) abandoned() error { return abandonedError(c.deliveryCtx) }

func abandonedError(deliveryCtx context.Context) error {
	return fmt.Errorf("analytics: abandoned when Shutdown's context ended: %w", context.Cause(deliveryCtx))
}

// settledUnsent reports, and returns true for, a batch that is not to be
// sent: placeholders of messages the spool lost, or any batch once
// Shutdown's context has ended (abandoned).
func (c *Client) settledUnsent(bt *batch) bool {
	switch {
	case bt.lost != nil:
		bt.fail(0, len(bt.items), bt.lost)
	case c.deliveryCtx.Err() != nil:
		bt.fail(0, len(bt.items), c.abandoned())
	default:
		return false
	}
	c.report(bt)
	return true
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
	switch o.log {
	case logRequeued:
		c.logger.Warn("analytics: messages not delivered yet; the spool sends them again", "messages", o.requeued+o.parked, "error", o.last)
	case logKeyRefused:
		// Logged once at Error by the sender (authFailed); a revoked
		// key must not write an error line per batch all day.
		c.logger.Debug("analytics: messages not delivered", "messages", o.lost, "error", o.last)
	case logLost:
		c.logger.Error("analytics: messages not delivered", "messages", o.lost, "of", len(bt.items), "error", o.last)
	}
	if c.cfg.callback != nil {
		for i := range bt.items {
			it := &bt.items[i]
			var err error
			if bt.errs != nil {
				err = bt.errs[i]
			}
			if final(err) {
				c.callback(Result{MessageID: it.messageID(), Type: it.typ, Event: it.eventName(), Err: err})
			}
		}
	}
	c.b.settle(bt, o)
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
