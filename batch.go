package analytics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cdpkit/analytics-go/internal/spool"
)

// item is one encoded message in the queue. Its data is a copy in its
// batch's buffer (batch.keep), so that what the queue holds is what
// WithQueueMaxBytes counts: the message id and the event name are offsets
// into data, never strings that would keep a caller's buffer alive.
type item struct {
	data []byte
	typ  string
	// event is the event name of an item read back from the spool, whose
	// records carry it (spool.go). An item of the memory queue leaves it
	// empty and has the name at data[eventStart:eventEnd]; see eventName.
	event                string
	idStart, idEnd       int32
	eventStart, eventEnd int32     // the event name's JSON string, quotes excluded; 0, 0 if none
	ref                  spool.Ref // where it is in the spool (WithSpool)
}

// messageID decodes the message's messageId from its encoded bytes.
func (it *item) messageID() string {
	return it.jsonString(it.idStart, it.idEnd)
}

// eventName decodes the track call's event name from its encoded bytes;
// "" for a message that is not a track call.
func (it *item) eventName() string {
	if it.eventEnd <= it.eventStart {
		return it.event
	}
	return it.jsonString(it.eventStart, it.eventEnd)
}

// jsonString decodes the JSON string whose contents, quotes excluded, are
// data[start:end].
func (it *item) jsonString(start, end int32) string {
	raw := it.data[start:end]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var s string
	if err := json.Unmarshal(it.data[start-1:end+1], &s); err != nil {
		return string(raw)
	}
	return s
}

// batch is a batch of messages in the queue, or cut from it on its way to
// the API: the messages numbered (from, to] in the order Enqueue queued
// them.
type batch struct {
	from, to uint64
	items    []item
	size     int // bytes of the messages and the commas between them

	// buf holds the items' bytes, back to back, a comma between two
	// (keep). Who owns it: while the batch is queued, the queue, under
	// batcher.mu (keep writes it); once cut, the sender goroutine that
	// sends the batch, which lends it, read-only, to the request bodies
	// of the batch and of its halves (sender.body, messages); net/http
	// may go on reading a body after the answer, on a goroutine of its
	// own, until it closes the body; once the batch is settled, the queue
	// again (recycle), which reuses buf for new messages only if no
	// request body was still open when released (bufRead).
	buf []byte

	// errs holds each message's outcome once the senders are done with
	// the batch: nil when every message was delivered, else one entry
	// per item, nil for a delivered one.
	errs []error

	// moved counts its messages that the spool took back (requeue), and
	// again is the number of the last message numbered then: they are out
	// of Stats.InFlight already.
	moved int
	again uint64

	// bufRead is set by the sender goroutine when a request body that
	// lent buf was still open once the request was done (an API that
	// answered before it had read the body: net/http goes on writing it):
	// recycle then lets go of the batch and its buffer instead of reusing
	// them, and the garbage collector frees them once net/http closes the
	// body. It is read by recycle, in settle, which the same goroutine
	// calls (Client.report).
	bufRead bool

	// lost, if set, makes this a batch of messages that are lost already:
	// placeholders for spooled messages that could not be read back,
	// queued in their turn so that their numbers finish in order. The
	// senders report them lost with this cause and send nothing.
	lost error
}

// keep copies p, the bytes of a message being queued in b, to the end of
// b.buf, after a comma if b holds messages already, and returns the copy.
// So b.buf is the batch's messages as a request body lists them, and the
// senders send it as it is (sender.body). The batch owns its buffer and
// reuses it once it is settled (batchQueue.recycle), so that queueing a
// message costs a copy, not an allocation of its own: with thousands of
// messages a second, one allocation per message would be most of what the
// garbage collector has to do. When buf must grow, the items already in it
// move to the new buffer, and the old one is garbage at once; it grows at
// least twofold, up to maxBytes (the most a batch holds), so a batch filled
// from empty costs a logarithmic number of allocations, and a reused one
// none. The queue gives a new batch room for as much as the last full one
// held, and grows a batch's buffer ahead of the lock where it can
// (batchQueue.needs), so that this growth is rare.
func (b *batch) keep(p []byte, maxBytes int) []byte {
	n := len(b.buf)
	comma := len(b.items) > 0
	need := n + len(p)
	if comma {
		need++
	}
	if need > cap(b.buf) {
		b.moveTo(make([]byte, 0, max(need, min(2*cap(b.buf), maxBytes), minBatchBuf)))
	}
	if comma {
		b.buf = append(b.buf, ',')
		n++
	}
	b.buf = append(b.buf, p...)
	return b.buf[n:len(b.buf):len(b.buf)]
}

// messages returns the bytes of items[lo:hi] (lo < hi) as a request body
// lists them: b.buf from the first byte of items[lo] to the last of
// items[hi-1], with the commas between them and none before or after. It
// is a part of b.buf, not a copy: the request bodies of the batch and of
// its halves read the messages where keep wrote them (see buf).
func (b *batch) messages(lo, hi int) []byte {
	if lo == 0 && hi == len(b.items) {
		return b.buf[:len(b.buf):len(b.buf)]
	}
	start := 0
	for i := range lo {
		start += len(b.items[i].data) + 1 // and its comma
	}
	end := start + hi - lo - 1 // the commas between them
	for i := lo; i < hi; i++ {
		end += len(b.items[i].data)
	}
	return b.buf[start:end:end]
}

// moveTo moves b's messages into buf, an empty buffer with room for them,
// which becomes b's buffer.
func (b *batch) moveTo(buf []byte) {
	buf = append(buf[:0], b.buf...)
	off := 0
	for i := range b.items {
		end := off + len(b.items[i].data)
		b.items[i].data = buf[off:end:end]
		off = end + 1 // the comma
	}
	b.buf = buf
}

// minBatchBuf is the smallest buffer a batch allocates for its messages.
const minBatchBuf = 4 << 10

// fail marks items[lo:hi] as not delivered because of err.
func (b *batch) fail(lo, hi int, err error) {
	if b.errs == nil {
		b.errs = make([]error, len(b.items))
	}
	for i := lo; i < hi; i++ {
		b.errs[i] = err
	}
}

// batcher owns the queue and cuts it into batches for the senders. It
// owns the numbering of messages and Shutdown's state machine too.
//
// # Concurrency model
//
// Messages enter the queue through admit only: from Enqueue (the memory
// path), or from the spool's feeder goroutine (WithSpool). One batcher
// goroutine (run) cuts batches from the head of the queue under mu and
// hands each, with mu released, to a fixed pool of sender goroutines over
// an unbuffered channel, so that when every sender is busy the batcher
// waits, the queue fills and Enqueue refuses: memory stays bounded. A batch
// is cut when it is full (WithBatchSize messages or MaxBatchBytes of
// request body), when the flush interval ticks, when a Flush asks, when the
// queue refuses a message, and at Shutdown. Senders report each batch's
// outcome back under mu (settle).
//
// Messages are numbered 1, 2, … in the order they are cut; enqueued counts
// the messages numbered so far. A message held only by the spool is
// reserved a number (reserve) when the spool takes it, and takes it when
// the feeder admits it: the feeder admits in the order of reservation, so
// a Flush waits for exactly the messages accepted before it.
//
// mu guards the queue, the counters behind Stats and the barrier of Flush
// and Shutdown, so a Stats snapshot always adds up and a Flush sees
// exactly the messages enqueued before it. It is held only for
// bookkeeping: never across I/O, a callback or a log call. The spool's
// lock (spooler.mu) is taken before mu, never after.
//
// # The gate
//
// One thing is read without mu: full, the gate in front of Enqueue's
// memory path (refuseAtGate). Once a message finds the queue full by
// count, the queue stays full until the batcher cuts a batch from it, so
// until then every Enqueue is refused at the gate, before it encodes its
// message and without mu: under overload the refusals, most of the calls,
// neither queue on mu behind each other nor slow down the calls that are
// accepted and the senders that drain the queue. full is set under mu by
// admit when it refuses an Enqueue (ErrQueueFull) with the queue full by
// count, and cleared under mu by next when it cuts; a refusal at the gate
// is therefore one the queue would have made. It is counted in
// droppedAtGate, an atomic outside the identity of Stats (refused messages
// are on neither side), which a snapshot reads with the rest: every
// refusal returned before a Stats call began is in it. Only the first refusal of each full spell goes
// through mu, to count the episode, log it once and signal the batcher.
//
// # Shutdown
//
// Shutdown moves the batcher through five states, each entered once and
// marked by a channel closed on entry, so every Shutdown call (and the
// goroutines) can wait for the one it needs:
//
//	open      intake open
//	draining  stop: intake closed (closed under mu); the queue is cut and
//	          sent as it fills, and the sources (the spool's feeder) go
//	          on admitting what they hold until they are done
//	aborted   aborted: Shutdown's context ended; requests are canceled,
//	          sources stop, and batches not yet handed over are abandoned
//	decided   decided: Shutdown's result is fixed (once stopped, or 50 ms
//	          after aborting, whichever comes first)
//	stopped   done: run and every sender have returned
//
// decided may come before stopped: a RoundTripper that ignores its
// context, or a slow callback, keeps a sender busy after Shutdown has
// returned; it reports its messages when it is done.
type batcher struct {
	interval time.Duration // the flush interval
	logger   *slog.Logger
	// abandon reports a batch that Shutdown's ended context kept from
	// the senders (Client.abandonBatch).
	abandon func(*batch)
	// cancel cancels every request in flight, with cause, when
	// Shutdown's context ends (Client.cancelDelivery).
	cancel func(cause error)
	// closing, if set, is called when Shutdown begins, before intake
	// closes: the spool stops taking messages.
	closing func()
	// unfinished returns the cause Shutdown gives the messages it did
	// not finish (Client.unfinishedCause).
	unfinished func() error

	// wake (capacity 1) tells run that a batch may be ready to cut.
	wake chan struct{}
	// out hands batches to the senders; run closes it when it stops.
	out chan *batch
	// stop is closed when Shutdown begins, aborted when its context
	// ends, done when run and every sender have returned.
	stop, aborted, done chan struct{}
	abortOnce           sync.Once

	mu         sync.Mutex
	q          *batchQueue
	closed     bool   // Shutdown began: Enqueue's admissions fail with ErrClosed
	sources    int    // sources still admitting (the spool's feeder)
	parked     int    // messages the spool holds back, not numbered (requeue)
	parkedErr  error  // the cause of the last of them parked
	enqueued   uint64 // messages numbered so far, reserved ones included
	cut        uint64 // messages taken from the queue so far
	cutWanted  uint64 // cut every message up to here now, full batch or not
	room       chan struct{}
	roomWait   int  // admissions waiting for room
	waiting    int  // sources waiting to admit their next message (sourceWaiting)
	overloaded bool // the queue refused a message and has not drained since
	stats      counters

	// full is the gate (see above): set when admit refuses an Enqueue
	// with the queue full by count, cleared when a batch is cut. Written
	// under mu, read without it by refuseAtGate.
	full atomic.Bool
	// droppedAtGate counts the messages refused at the gate, added to
	// stats.droppedFull in Stats.
	droppedAtGate atomic.Int64
	bar           barrier

	shutdownFrom int64 // bar.covered when Shutdown began
	result       error // Shutdown's result, once decided
	resultSet    bool
	// decided is closed when Shutdown's result is decided, so that a
	// later Shutdown returns it at once, even while goroutines held by
	// a deaf RoundTripper finish in the background.
	decided chan struct{}
}

// counters are the figures behind Stats, guarded by batcher.mu.
type counters struct {
	enqueued, delivered, failed                              int64
	failedStatus, failedRetries, failedShutdown, failedSpool int64
	droppedFull, tooLarge, invalid                           int64
	batches, requests, retries, bytesSent                    int64
	bisected                                                 int64
	inFlight                                                 int64
	spool                                                    spoolCounters
}

func newBatcher(cfg *config, logger *slog.Logger) *batcher {
	return &batcher{
		interval: cfg.flushInterval,
		logger:   logger,
		wake:     make(chan struct{}, 1),
		out:      make(chan *batch),
		stop:     make(chan struct{}),
		aborted:  make(chan struct{}),
		done:     make(chan struct{}),
		q:        newBatchQueue(cfg),
		room:     make(chan struct{}),
		decided:  make(chan struct{}),
	}
}

func (b *batcher) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// source says where a message comes from, for admit.
type source int

const (
	// fromEnqueue is a message Enqueue accepted: admit numbers and
	// counts it.
	fromEnqueue source = iota
	// fromSpool is a message the spool's feeder read back: its number
	// was reserved when the spool took it (reserve).
	fromSpool
)

// admitWait says what admit does when the queue is full.
type admitWait int

const (
	refuse admitWait = iota // return ErrQueueFull, counted and logged as a drop
	look                    // return errNoRoom, counting nothing
	await                   // wait for room until done is closed (nil: as long as it takes)
)

// admit is the one way into the queue: it queues a copy of it, whose data
// the caller keeps; w says what it does when the queue is full. Once
// Shutdown has begun it refuses messages from Enqueue with ErrClosed; those
// of the spool are admitted until Shutdown's context ends.
func (b *batcher) admit(it item, from source, w admitWait, done <-chan struct{}) error {
	size := len(it.data)
	prepared := false
	b.mu.Lock()
	for {
		if b.closed && from == fromEnqueue {
			b.mu.Unlock()
			return ErrClosed
		}
		if b.q.fits(size) {
			if grow, items, bytes, ok := b.q.needs(size); ok && !prepared {
				// Allocate without the lock (see batchQueue), once:
				// if another caller used it first, push allocates.
				prepared = true
				b.mu.Unlock()
				nb := makeBatch(items, bytes)
				b.mu.Lock()
				b.q.provide(grow, nb)
				continue
			}
			break
		}
		if w == await && b.awaitCutLocked(done) {
			continue
		}
		// A queue smaller than a batch fills before a batch does: send
		// what it holds now rather than at the next tick.
		b.cutWanted = b.enqueued
		if w != refuse {
			b.mu.Unlock()
			b.signal()
			return errNoRoom
		}
		if b.q.items >= b.q.maxItems {
			// Full by count until the next cut, whatever the size of
			// the next message: close the gate. Only here, on a drop
			// counted and logged under mu: a look or a wait of
			// EnqueueContext that finds the queue full drops nothing,
			// and closing the gate there would drop the Enqueue calls
			// after it unlogged (the episode's warning is logged
			// here); nor can it close the gate again once Shutdown has
			// opened it for good (closed was checked under this hold of
			// mu).
			b.full.Store(true)
		}
		b.stats.droppedFull++
		first := !b.overloaded
		b.overloaded = true
		maxItems, maxBytes := b.q.maxItems, b.q.maxBytes
		b.mu.Unlock()
		b.signal()
		if first {
			b.logger.Warn("analytics: queue full; dropping messages until it drains",
				"capacity", maxItems, "maxBytes", maxBytes)
		}
		return ErrQueueFull
	}
	if from == fromEnqueue {
		b.stats.enqueued++
		b.enqueued++
	} else {
		b.stats.spool.pending--
	}
	b.q.push(it)
	// A source's last pending message may complete what a Flush or
	// Shutdown wants cut (see next).
	due := b.q.ready() || (from == fromSpool && b.toAdmit() == 0 && b.cut < b.cutWanted)
	b.mu.Unlock()
	if due {
		b.signal()
	}
	return nil
}

// refuseAtGate reports whether the gate is closed, counting the refusal:
// the queue is full by count, and Enqueue is to return ErrQueueFull
// without encoding its message. It takes no lock (see the batcher's
// documentation).
func (b *batcher) refuseAtGate() bool {
	if !b.full.Load() {
		return false
	}
	b.droppedAtGate.Add(1)
	return true
}

// toAdmit returns how many messages the spool's feeder is to admit: those
// it holds, but for the parked ones. Called with mu held.
func (b *batcher) toAdmit() int64 { return b.stats.spool.pending - int64(b.parked) }

// errNoRoom is admit's error when its wait ended before the queue had
// room.
var errNoRoom = errors.New("analytics: no room in the queue")

// reserve numbers n messages that the spool holds and its feeder will
// admit, counting them by kind; it returns ErrClosed, numbering nothing,
// for new messages once Shutdown has begun.
func (b *batcher) reserve(n int, kind reservation) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed && kind == reserveNew {
		return ErrClosed
	}
	b.enqueued += uint64(n)
	switch kind {
	case reserveNew:
		b.stats.enqueued += int64(n)
		b.stats.spool.pending += int64(n)
	case reserveRecovered:
		b.stats.spool.recovered += int64(n)
		b.stats.spool.pending += int64(n)
	case reserveReleased:
		b.parked -= n // pending already
	}
	return nil
}

// reservation is the kind of the messages reserve numbers.
type reservation int

const (
	reserveNew       reservation = iota // accepted by Enqueue into the spool
	reserveRecovered                    // found in the spool by New
	reserveReleased                     // parked (see requeue), now to be sent again
)

// requeue takes back from bt, which the senders are done with, again
// messages to be sent again (numbered anew now) and parked ones that wait
// to be released (numbered then), with the error of the last of those:
// they move from in flight to pending at once, so that Stats add up at
// every moment, and every Flush waiting for bt counts the parked ones as
// not delivered (barrier.park). The spool calls it, under its lock,
// before bt is settled.
func (b *batcher) requeue(bt *batch, again, parked int, parkedErr error) {
	n := again + parked
	b.mu.Lock()
	defer b.mu.Unlock()
	b.enqueued += uint64(again)
	if parked > 0 {
		b.parked += parked
		b.parkedErr = parkedErr
		b.bar.park(bt.from, int64(parked), parkedErr)
	}
	b.stats.inFlight -= int64(n)
	b.stats.spool.pending += int64(n)
	b.stats.spool.requeued += int64(n)
	bt.moved += n
	bt.again = b.enqueued
}

// admitLost queues, in its turn, a placeholder for n reserved messages
// that the spool cannot give back (damaged, unreadable): the senders
// report them lost with cause, so that every Flush waiting for them
// returns.
func (b *batcher) admitLost(n int, cause error) {
	b.mu.Lock()
	b.stats.spool.pending -= int64(n)
	b.q.pushLost(n, cause)
	b.mu.Unlock()
	b.signal()
}

// addSource registers a source that admits messages until it calls
// sourceDone; Shutdown's draining waits for it.
func (b *batcher) addSource() {
	b.mu.Lock()
	b.sources++
	b.mu.Unlock()
}

// sourceWaiting is called by a source with 1 when it begins to wait
// before admitting its next message (a redo run not yet due), and with -1
// when it stops: meanwhile a batch that is not full is cut when one is
// wanted, as if the source had nothing to admit.
func (b *batcher) sourceWaiting(d int) {
	b.mu.Lock()
	b.waiting += d
	b.mu.Unlock()
	if d > 0 {
		b.signal()
	}
}

// sourceDone is called by a source that will admit nothing more.
func (b *batcher) sourceDone() {
	b.mu.Lock()
	b.sources--
	b.mu.Unlock()
	b.signal()
}

// awaitCutLocked asks for a cut and waits, with mu released, until the
// batcher has cut from the queue, Shutdown has begun (both close room),
// or done is closed, for which it reports false. It is called with mu
// held and returns with mu held.
func (b *batcher) awaitCutLocked(done <-chan struct{}) bool {
	b.cutWanted = b.enqueued
	room := b.room
	b.roomWait++
	b.mu.Unlock()
	b.signal()
	ok := true
	select {
	case <-room:
	case <-done:
		ok = false
	}
	b.mu.Lock()
	b.roomWait--
	return ok
}

// reject counts a message Enqueue refused before queueing it.
func (b *batcher) reject(tooLarge bool) {
	b.mu.Lock()
	if tooLarge {
		b.stats.tooLarge++
	} else {
		b.stats.invalid++
	}
	b.mu.Unlock()
}

// run is the batcher goroutine. It cuts batches and hands them to the
// senders until Shutdown; then, draining, it cuts what is queued as it
// comes until no source is left and the queue is empty, closes out, waits
// for the senders (wait), and closes done.
func (b *batcher) run(wait func()) {
	defer close(b.done)
	ticker := time.NewTicker(b.interval)
	defer ticker.Stop()
	stop, aborted := b.stop, b.aborted
	for {
		select {
		case <-b.wake:
		case <-ticker.C:
			b.mu.Lock()
			b.cutWanted = b.enqueued
			b.q.trim(false)
			b.mu.Unlock()
		case <-stop:
			stop = nil // draining: beginShutdown set cutWanted
		case <-aborted:
			// The sources stop; what they had not admitted stays
			// unfinished. Everything queued is cut and abandoned.
			aborted = nil
		}
		b.drain()
		if stop == nil && b.finished() {
			close(b.out)
			wait()
			return
		}
	}
}

// finished reports, while draining, whether there is nothing left to cut:
// no source is admitting and the queue is empty.
func (b *batcher) finished() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sources == 0 && b.q.items == 0
}

// drain cuts and hands over batches while one is due.
func (b *batcher) drain() {
	for {
		bt, drained := b.next()
		if drained {
			b.logger.Info("analytics: queue drained; accepting messages again")
		}
		if bt == nil {
			return
		}
		select {
		case b.out <- bt:
		case <-b.aborted:
			b.abandon(bt)
		}
	}
}

// next cuts the next batch that is due, or returns nil. drained reports
// the end of an episode of overload: the queue is back to half its
// bounds.
func (b *batcher) next() (bt *batch, drained bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// A batch that is not full is cut when one is wanted, unless a source
	// is about to add to it: it has pending messages and is not waiting
	// for room, or for a redo run to be due.
	bt = b.q.pop(b.cut < b.cutWanted && (b.toAdmit() == 0 || b.roomWait > 0 || b.waiting > 0 || isClosed(b.aborted)))
	if bt == nil {
		return nil, false
	}
	bt.from = b.cut
	b.cut += uint64(len(bt.items))
	bt.to = b.cut
	b.stats.inFlight += int64(len(bt.items))
	if b.full.Load() {
		b.full.Store(false) // the cut made room: open the gate
	}
	if b.roomWait > 0 {
		close(b.room)
		b.room = make(chan struct{})
	}
	if b.overloaded && b.q.items <= b.q.maxItems/2 && b.q.bytes <= b.q.maxBytes/2 {
		b.overloaded = false
		drained = true
	}
	return bt, drained
}

// settle records the outcome of bt, and takes bt back for reuse.
func (b *batcher) settle(bt *batch, o outcome) {
	n := int64(len(bt.items))
	from, to := bt.from, bt.to
	clear(bt.items) // while the lock is free: nothing reads them any more
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stats.inFlight -= n - int64(bt.moved)
	b.stats.batches++
	b.stats.delivered += n - o.lost - o.requeued - o.parked
	b.stats.failed += o.lost
	b.stats.failedStatus += o.status
	b.stats.failedRetries += o.retries
	b.stats.failedShutdown += o.aborted
	b.stats.failedSpool += o.spool
	b.bar.finish(from, span{to: to, lost: o.lost, requeued: o.requeued, again: bt.again, err: o.last})
	b.q.recycle(bt)
	if b.stats.inFlight == 0 && b.q.items == 0 {
		b.q.trim(true) // idle: the spares of a burst are not needed
	}
}

// beginFlush registers a Flush of everything enqueued so far and asks for
// it to be cut.
func (b *batcher) beginFlush() (*flushWait, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	w := b.bar.add(b.enqueued)
	if b.parked > 0 {
		// Enqueued before this Flush and parked already: not delivered
		// yet, and not numbered, so not waited for.
		w.requeued += int64(b.parked)
		w.err = b.parkedErr
	}
	b.cutWanted = b.enqueued
	b.mu.Unlock()
	b.signal()
	return w, nil
}

// endFlush returns the report of a Flush, or forgets it if it gave up.
func (b *batcher) endFlush(w *flushWait, completed bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !completed {
		b.bar.remove(w)
		return nil
	}
	return b.bar.result(w)
}

// shutdown is Client.Shutdown: it stops intake, lets the pipeline drain
// until ctx ends, and returns the result, the same for every call.
func (b *batcher) shutdown(ctx context.Context) error {
	b.beginShutdown()
	select {
	case <-b.done:
	case <-b.decided:
	case <-ctx.Done():
		b.abortOnce.Do(func() {
			b.cancel(ctx.Err())
			close(b.aborted)
		})
		grace := time.NewTimer(abortGrace)
		select {
		case <-b.done:
		case <-grace.C:
		}
		grace.Stop()
	}
	return b.shutdownResult(b.unfinished())
}

// beginShutdown stops intake and asks for everything to be cut, once.
func (b *batcher) beginShutdown() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.mu.Unlock()
	if b.closing != nil {
		b.closing()
	}
	b.mu.Lock()
	if b.closed { // a concurrent Shutdown got here first
		b.mu.Unlock()
		return
	}
	b.closed = true
	b.full.Store(false) // Enqueue returns ErrClosed from now on, not ErrQueueFull
	b.shutdownFrom = b.bar.covered
	b.cutWanted = b.enqueued
	close(b.room) // wake blocked EnqueueContext calls: they fail with ErrClosed
	b.room = make(chan struct{})
	b.mu.Unlock()
	close(b.stop)
}

// shutdownResult decides Shutdown's result once; messages not finished by
// then count as undelivered because of cause.
func (b *batcher) shutdownResult(cause error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.resultSet {
		b.result = b.bar.shutdownResult(b.shutdownFrom, int64(b.enqueued)+int64(b.parked), cause)
		b.resultSet = true
		close(b.decided)
	}
	return b.result
}

// isClosed reports whether ch is closed.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// snapshot returns the counters as Stats, all taken at one moment.
func (b *batcher) snapshot() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	queued, queuedBytes := b.q.items, b.q.bytes
	s := &b.stats
	st := Stats{
		Enqueued:         s.enqueued,
		Delivered:        s.delivered,
		Failed:           s.failed,
		FailedStatus:     s.failedStatus,
		FailedRetries:    s.failedRetries,
		FailedShutdown:   s.failedShutdown,
		FailedSpool:      s.failedSpool,
		DroppedQueueFull: s.droppedFull + b.droppedAtGate.Load(),
		RejectedTooLarge: s.tooLarge,
		RejectedInvalid:  s.invalid,
		Batches:          s.batches,
		Requests:         s.requests,
		Retries:          s.retries,
		BisectedRequests: s.bisected,
		BytesSent:        s.bytesSent,
		Queued:           int64(queued),
		QueuedBytes:      int64(queuedBytes),
		InFlight:         s.inFlight,
	}
	s.spool.fill(&st)
	return st
}

// attempt counts one HTTP attempt of wireBytes; half reports a request
// carrying part of a batch the API refused.
func (b *batcher) attempt(n int, wireBytes int64, half bool) {
	b.mu.Lock()
	b.stats.requests++
	b.stats.bytesSent += wireBytes
	if n > 0 {
		b.stats.retries++
	} else if half {
		b.stats.bisected++
	}
	b.mu.Unlock()
}
