package analytics

import "sync/atomic"

// Stats are the client's counters since New. When the client is idle
// (nothing being enqueued or sent), they add up:
//
//	Enqueued == Delivered + Failed + Queued + InFlight
//	Failed   == FailedStatus + FailedRetries + FailedShutdown
//
// While messages move through the pipeline a snapshot may be off by the
// messages of one batch in motion.
type Stats struct {
	// Enqueued counts messages Enqueue accepted.
	Enqueued int64
	// Delivered counts messages the API accepted.
	Delivered int64
	// Failed counts accepted messages that will not be delivered.
	Failed int64
	// FailedStatus counts messages the API refused with a status that is
	// not retried, such as 400 or 401.
	FailedStatus int64
	// FailedRetries counts messages given up when their attempts or retry
	// time ran out, or after a network error that is not retried.
	FailedRetries int64
	// FailedShutdown counts messages abandoned when Shutdown's context
	// ended.
	FailedShutdown int64

	// DroppedQueueFull counts messages Enqueue refused with ErrQueueFull.
	DroppedQueueFull int64
	// RejectedTooLarge counts messages Enqueue refused with
	// ErrMessageTooLarge.
	RejectedTooLarge int64
	// RejectedInvalid counts messages Enqueue refused as invalid.
	RejectedInvalid int64

	// Batches counts batches that reached a final outcome.
	Batches int64
	// Requests counts HTTP attempts, retries included.
	Requests int64
	// Retries counts HTTP attempts after the first of a batch.
	Retries int64
	// BytesSent counts request body bytes over all attempts, after gzip.
	BytesSent int64

	// Queued is the number of messages waiting in the queue now.
	Queued int64
	// QueuedBytes is the size of the messages waiting in the queue now.
	QueuedBytes int64
	// InFlight is the number of messages in batches being sent now.
	InFlight int64
}

type counters struct {
	enqueued, delivered, failed                 atomic.Int64
	failedStatus, failedRetries, failedShutdown atomic.Int64
	droppedFull, tooLarge, invalid              atomic.Int64
	batches, requests, retries, bytesSent       atomic.Int64
	inFlight                                    atomic.Int64
}

// Stats returns a snapshot of the client's counters. A nil *Client returns
// zero Stats.
func (c *Client) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	queued, queuedBytes := c.q.Len()
	return Stats{
		Enqueued:         c.stats.enqueued.Load(),
		Delivered:        c.stats.delivered.Load(),
		Failed:           c.stats.failed.Load(),
		FailedStatus:     c.stats.failedStatus.Load(),
		FailedRetries:    c.stats.failedRetries.Load(),
		FailedShutdown:   c.stats.failedShutdown.Load(),
		DroppedQueueFull: c.stats.droppedFull.Load(),
		RejectedTooLarge: c.stats.tooLarge.Load(),
		RejectedInvalid:  c.stats.invalid.Load(),
		Batches:          c.stats.batches.Load(),
		Requests:         c.stats.requests.Load(),
		Retries:          c.stats.retries.Load(),
		BytesSent:        c.stats.bytesSent.Load(),
		Queued:           int64(queued),
		QueuedBytes:      int64(queuedBytes),
		InFlight:         c.stats.inFlight.Load(),
	}
}
