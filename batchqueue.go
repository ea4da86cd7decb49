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
// wait in, and their entries (items); the batches in flight and their
// buffers; and the spare batches kept for reuse with their buffers, all of
// them between two flush ticks, keepSpare (WithMaxInFlight+2) after a
// tick, one once the client is idle. A new batch is given room for as many
// bytes and messages as the last batch that filled up (and an eighth more
// bytes), so that under a steady flow its buffer is allocated once and
// holds little more than its messages; before any batch has filled up, it
// starts small and doubles as it fills (batch.keep), so that a client that
// sends a few messages per flush interval holds little. Whatever the queue
// allocates is allocated ahead of batcher.mu where it can: admit asks what
// a message will need (needs), makes it without the lock, and hands it over
// (provide), so that the allocation, and the page faults of memory the
// process touches for the first time (a queue filling up, at start-up or in
// a burst), do not hold up the other callers waiting for the lock.
type batchQueue struct {
	maxItems, maxBytes    int // the bounds (WithQueueCapacity, WithQueueMaxBytes)
	batchSize, batchBytes int // when a batch is full

	items, bytes int      // queued messages, and the total of their sizes
	full         []*batch // sealed batches, oldest at full[head]
	head         int
	open         *batch // the batch being filled; nil if none

	spare     []*batch // settled batches, for reuse; trimmed to keepSpare by trim
	keepSpare int

	// fullBytes and fullItems are the size and the messages of the last
	// batch sealed because it was full: what a new batch is given room
	// for (newBatch); 0 before any.
	fullBytes, fullItems int
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
		q.sealFull()
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
		q.sealFull()
	}
}

// sealFull seals the open batch, which is full, and takes its size as what
// the next new batch is given room for.
func (q *batchQueue) sealFull() {
	q.fullBytes, q.fullItems = len(q.open.buf), len(q.open.items)
	q.seal()
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
	return makeBatch(q.newItems(), q.newBytes())
}

// newItems and newBytes are the room a new batch is given for messages
// and their bytes: as much as the last full batch held, and an eighth more
// bytes; before any batch has filled up, minBatchItems messages and no
// bytes (keep allocates minBatchBuf, or the message's size, at the first).
func (q *batchQueue) newItems() int {
	n := q.fullItems
	if n == 0 {
		n = minBatchItems
	}
	return max(min(n, q.batchSize, q.maxItems), 1)
}

func (q *batchQueue) newBytes() int {
	return min(q.fullBytes+q.fullBytes/8, q.batchBytes)
}

// minBatchItems is the room for messages of a new batch before any batch
// has filled up.
const minBatchItems = 64

// makeBatch returns an empty batch with room for items messages and bytes
// of them. Its buffer's pages are written once, so that the page faults of
// memory the process had not touched yet are taken here, where admit
// calls it, without the batcher's lock (needs).
func makeBatch(items, bytes int) *batch {
	bt := &batch{items: make([]item, 0, items)}
	if bytes > 0 {
		bt.buf = make([]byte, 0, bytes)
		touch(bt.buf[:bytes])
	}
	return bt
}

// touch writes a zero into every page of p (which is zero already), so
// that the operating system backs it with memory now.
func touch(p []byte) {
	for i := 0; i < len(p); i += 4096 {
		p[i] = 0
	}
}

// needs reports whether pushing a message of size bytes would allocate,
// and if so what admit is to make without the lock, as an empty batch's
// room for messages and bytes, and give to provide before it pushes: a new
// batch, when push would open one and no spare is left (grow is nil); or
// else the room the open batch, grow, is to grow into (0 for what need not
// grow), when its buffer or its entries are full.
func (q *batchQueue) needs(size int) (grow *batch, items, bytes int, ok bool) {
	bt := q.open
	if bt == nil || bt.size+1+size > q.batchBytes {
		if len(q.spare) > 0 {
			return nil, 0, 0, false
		}
		return nil, q.newItems(), max(q.newBytes(), size, minBatchBuf), true
	}
	if need := len(bt.buf) + 1 + size; need > cap(bt.buf) {
		bytes = max(need, min(2*cap(bt.buf), q.batchBytes), minBatchBuf)
	}
	if len(bt.items) == cap(bt.items) && len(bt.items) < q.batchSize {
		items = min(2*cap(bt.items), q.batchSize)
	}
	return bt, items, bytes, items > 0 || bytes > 0
}

// provide takes nb, made for what needs asked for while the lock was
// released: with grow set, room the open batch grows into, if grow is
// still the open batch and is still smaller; else a spare batch for the
// next one to open. What it cannot use is garbage.
func (q *batchQueue) provide(grow, nb *batch) {
	if grow == nil {
		q.spare = append(q.spare, nb)
		return
	}
	if grow != q.open {
		return // sealed meanwhile
	}
	if cap(nb.buf) > cap(grow.buf) {
		grow.moveTo(nb.buf)
	}
	if cap(nb.items) > cap(grow.items) {
		grow.items = append(nb.items, grow.items...)
	}
}

// recycle keeps bt, which is settled and whose items the caller has
// cleared, for reuse with its buffer, once nothing refers to them any
// more. If a request body that lent the buffer was still open when its
// request was done (bt.bufRead), net/http may still be reading it: bt is
// let go of instead, and a new batch is made when one is needed (needs),
// as if no spare were left.
func (q *batchQueue) recycle(bt *batch) {
	if bt.bufRead {
		return
	}
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
