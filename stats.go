package analytics

// Stats are the client's counters since New. A snapshot is taken at one
// moment, so at any moment, while messages move through the pipeline too,
// they add up:
//
//	Enqueued + SpoolRecovered == Delivered + Failed + Queued + InFlight + SpoolPending
//	Failed   == FailedStatus + FailedRetries + FailedShutdown + FailedSpool
//
// The messages Enqueue refused or a transform dropped (DroppedQueueFull,
// the Rejected counters, DroppedByTransform) were never enqueued, so they
// are on neither side of the first line.
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
	// FailedSpool counts messages the spool lost (WithSpool): damaged or
	// unreadable on disk. Their Err matches ErrSpoolLost.
	FailedSpool int64

	// DroppedQueueFull counts messages Enqueue refused with ErrQueueFull.
	DroppedQueueFull int64
	// RejectedTooLarge counts messages Enqueue refused with
	// ErrMessageTooLarge.
	RejectedTooLarge int64
	// RejectedInvalid counts messages Enqueue refused as invalid.
	RejectedInvalid int64
	// RejectedByTransform counts messages Enqueue refused because a
	// transform panicked on them (a *TransformError; see WithTransform).
	RejectedByTransform int64
	// DroppedByTransform counts messages a transform dropped on purpose
	// (WithTransform). It is not a failure: Enqueue returned nil.
	DroppedByTransform int64

	// Batches counts batches that reached a final outcome.
	Batches int64
	// Requests counts HTTP attempts, retries included.
	Requests int64
	// Retries counts HTTP attempts after the first of a batch.
	Retries int64
	// BisectedRequests counts requests (first attempts) that carried
	// half of a batch the API refused as invalid (400, 413, 422), sent to
	// isolate the invalid messages; a batch of n messages makes at most
	// 2n-2 of them. They are included in Requests.
	BisectedRequests int64
	// BytesSent counts request body bytes over all attempts, after gzip.
	BytesSent int64

	// Queued is the number of messages waiting in the queue now.
	Queued int64
	// QueuedBytes is the size of the messages waiting in the queue now.
	QueuedBytes int64
	// InFlight is the number of messages in batches being sent now.
	InFlight int64

	// The spool's figures (WithSpool); zero without a spool.

	// SpoolPending is the number of messages held now only in the
	// spool's files, waiting for room in the memory queue.
	SpoolPending int64
	// SpoolRecovered counts messages New found in the spool, left by an
	// earlier client on the directory, and queued to be sent again; one
	// for each damaged region among them (SpoolDamaged), which is counted
	// in FailedSpool at once.
	SpoolRecovered int64
	// SpoolRequeued counts the times a message given up after its
	// retries, or refused for the key (401, 403), was taken back by the
	// spool, to be sent anew: such a message is not counted in Failed, and
	// moves from InFlight back to SpoolPending.
	SpoolRequeued int64
	// SpoolTorn counts torn records (a write cut short by a crash)
	// dropped from the end of the spool when New opened it. Enqueue never
	// returned nil for them.
	SpoolTorn int64
	// SpoolDamaged counts damaged regions of the spool's files skipped,
	// when New opened it or later; the messages lost in them are counted
	// in FailedSpool.
	SpoolDamaged int64
	// SpoolSetAside counts damaged segment files renamed aside (to
	// *.seg.damaged) once their intact messages were done.
	SpoolSetAside int64
	// SpoolWriteErrors counts messages Enqueue refused because the spool
	// could not write them (a full disk, say).
	SpoolWriteErrors int64
	// SpoolUnwrittenAcks is the number of delivered messages whose
	// delivery the spool could not record yet (a full disk): a crash now
	// would send them again. It falls to 0 once the disk takes writes.
	SpoolUnwrittenAcks int64
	// SpoolBytes is what the spool counts against WithSpoolMaxBytes now:
	// its segment files and the room reserved for their delivery records.
	SpoolBytes int64
	// SpoolSyncs counts fsyncs of the spool's files.
	SpoolSyncs int64
}

// Stats returns a snapshot of the client's counters, all taken at one
// moment. A nil or zero *Client returns zero Stats.
func (c *Client) Stats() Stats {
	if c == nil || c.b == nil {
		return Stats{}
	}
	s := c.b.snapshot()
	// Counted by Enqueue outside the batcher's lock; outside the
	// identity above, so they need not be taken at the same moment.
	s.RejectedByTransform = c.rejectedByTransform.Load()
	s.DroppedByTransform = c.droppedByTransform.Load()
	if c.spool != nil {
		c.spool.fill(&s)
	}
	return s
}
