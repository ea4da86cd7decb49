package analytics

// batchQueue holds the queued messages as the batches they will be sent
// in: the full batches, oldest first, and behind them the one being
// filled. Queueing a message appends it to the open batch, which is sealed
// when it is full (batchSize messages, or batchBytes of messages and
// commas); taking a batch is taking the oldest, or the open one when a
// cut is wanted before it is full. Both cost the same whatever the batch
// size, which keeps the batcher's lock short for the producers waiting on
// it.
//
// It owns the batches, each of which holds its messages' bytes in a buffer
// of its own (batch.keep), and reuses them once they are settled. It is
// guarded by batcher.mu: every method is called with mu held.
//
// Memory: the queued messages' bytes, in the buffers of the batches they
// wait in, which are at most twice as large as their contents (they
// double as they fill) and at most MaxBatchBytes; the batches in flight
// and their buffers; and the spare batches kept for reuse with their
// buffers, all of them between two flush ticks, keepSpare
// (WithMaxInFlight+2) after a tick, one once the client is idle.
type batchQueue struct {
	maxItems, maxBytes    int // the bounds (WithQueueCapacity, WithQueueMaxBytes)
	batchSize, batchBytes int // when a batch is full

	items, bytes int      // queued messages, and the total of their sizes
	full         []*batch // sealed batches, oldest at full[head]
	head         int
	open         *batch // the batch being filled; nil if none

	spare     []*batch // settled batches, for reuse; trimmed to keepSpare by trim
	keepSpare int
}

func newBatchQueue(cfg *config) *batchQueue {
	return &batchQueue{
		maxItems:   cfg.queueCapacity,
		maxBytes:   cfg.queueMaxBytes,
		batchSize:  cfg.batchSize,
		batchBytes: MaxBatchBytes - envelopeBytes,
		// Between trims, settled batches are all kept for reuse; a trim
		// keeps what a steady flow needs: a batch per sender, one being
		// filled and one spare.
		keepSpare: cfg.maxInFlight + 2,
	}
}

// fits reports whether a message of size bytes is within the bounds.
func (q *batchQueue) fits(size int) bool {
	return q.items < q.maxItems && q.bytes+size <= q.maxBytes
}

// push appends it, which fits, to the open batch: a copy of its data, which
// the caller keeps.
func (q *batchQueue) push(it item) {
	size := len(it.data)
	if q.open != nil && q.open.size+1+size > q.batchBytes {
		q.seal()
	}
	if q.open == nil {
		q.open = q.newBatch()
	}
	bt := q.open
	it.data = bt.keep(it.data, q.batchBytes)
	if len(bt.items) > 0 {
		bt.size++ // the comma
	}
	bt.items = append(bt.items, it)
	bt.size += size
	q.items++
	q.bytes += size
	if len(bt.items) >= q.batchSize {
		q.seal()
	}
}

// pushLost queues, as a batch of its own, n placeholders for messages
// that are lost already (see batch.lost), whatever the bounds: they hold
// no bytes, and are reported as soon as they are cut.
func (q *batchQueue) pushLost(n int, cause error) {
	if q.open != nil {
		q.seal()
	}
	bt := q.newBatch()
	bt.items = append(bt.items[:0], make([]item, n)...)
	bt.lost = cause
	q.open = bt
	q.seal()
	q.items += n
}

// seal moves the open batch behind the full ones.
func (q *batchQueue) seal() {
	if q.head > 0 && len(q.full) == cap(q.full) {
		n := copy(q.full, q.full[q.head:])
		clear(q.full[n:])
		q.full, q.head = q.full[:n], 0
	}
	q.full = append(q.full, q.open)
	q.open = nil
}

// ready reports whether a full batch is waiting.
func (q *batchQueue) ready() bool { return q.head < len(q.full) }

// pop removes and returns the oldest full batch; when there is none, the
// open batch if open is set; else nil.
func (q *batchQueue) pop(open bool) *batch {
	var bt *batch
	switch {
	case q.ready():
		bt = q.full[q.head]
		q.full[q.head] = nil
		q.head++
		if q.head == len(q.full) {
			q.full, q.head = q.full[:0], 0
		}
	case open && q.open != nil:
		bt, q.open = q.open, nil
	default:
		return nil
	}
	q.items -= len(bt.items)
	if bt.lost == nil {
		q.bytes -= bt.size - (len(bt.items) - 1) // the commas are not queued bytes
	}
	return bt
}

// newBatch returns an empty batch, reusing a settled one if it can.
func (q *batchQueue) newBatch() *batch {
	if n := len(q.spare); n > 0 {
		bt := q.spare[n-1]
		q.spare[n-1] = nil
		q.spare = q.spare[:n-1]
		return bt
	}
	return &batch{items: make([]item, 0, min(q.batchSize, q.maxItems))}
}

// recycle keeps bt, which is settled and whose items the caller has
// cleared, for reuse with its buffer: nothing refers to them any more.
func (q *batchQueue) recycle(bt *batch) {
	*bt = batch{items: bt.items[:0], buf: bt.buf[:0]}
	q.spare = append(q.spare, bt)
}

// trim lets go of the spare batches beyond what a steady flow needs, or
// with idle set beyond one, whose buffer it lets go of too if it is over
// maxIdleBuf. The batcher calls it on
// every flush tick, and with idle whenever a settled batch leaves nothing
// queued or in flight, so that the spares of a burst are kept through it
// and given back to the runtime after.
func (q *batchQueue) trim(idle bool) {
	keep := q.keepSpare
	if idle {
		keep = 1
	}
	if len(q.spare) > keep {
		clear(q.spare[keep:])
		q.spare = q.spare[:keep]
	}
	if idle {
		for _, bt := range q.spare {
			if cap(bt.buf) > maxIdleBuf {
				bt.buf = nil
			}
		}
	}
}

// maxIdleBuf is the largest buffer the spare batch of an idle client
// keeps.
const maxIdleBuf = 64 << 10
