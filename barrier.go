package analytics

// barrier tells Flush and Shutdown when the messages they stand for have
// finished, and how many of them were lost. It replaces per-loss records
// with running totals by message number, so that what it keeps does not
// grow with the number of losses.
//
// Messages are numbered 1, 2, … in the order Enqueue queued them, and a
// batch covers a run of them, (from, to]. Batches finish out of order; the
// barrier advances doneThrough over the ones that have finished in
// sequence, adding their losses to lostThrough. A batch that finishes
// ahead of an unfinished one waits in pending, which therefore holds at
// most the batches in flight.
//
// A Flush takes its target (every message enqueued so far) and its start
// (covered: the losses already reported by the Flush calls finished by
// then) when it is called. When doneThrough passes the target, the losses
// in between are its report; so every Flush reports the losses it waited
// for, whatever other Flush calls do at the same time.
//
// With a spool, a message given up after its retries may be queued again
// (requeued) under a new number. A Flush reports it as not delivered only
// if the new number is beyond what the Flush waits for: a requeue that
// came before the Flush began is waited for under its new number instead.
// A message refused for the key is parked, not numbered until the spool
// releases it: every Flush that begins while it is parked, or waits for
// its batch when it is parked (park), reports it as not delivered.
// Shutdown reports final losses only, and the messages not finished when
// it decides.
//
// A barrier is not safe for concurrent use: it is guarded by the batcher's
// lock, like the counters, so that Stats and the barrier always agree.
type barrier struct {
	doneThrough uint64          // every message numbered <= doneThrough has finished
	lostThrough int64           // losses among those messages
	lastErr     error           // the cause of the last of those losses
	pending     map[uint64]span // finished batches beyond doneThrough, by their from
	covered     int64           // lostThrough at the furthest target a finished Flush reached

	finished int64 // messages in finished batches, in or out of order
	lost     int64 // losses among them
	lastAny  error // the cause of the last of them to finish

	waiters map[*flushWait]struct{}
}

// span is a finished batch.
type span struct {
	to       uint64
	lost     int64  // lost for good
	requeued int64  // queued again, under numbers up to again
	again    uint64 // the messages numbered when they were
	err      error  // the cause of the last loss or requeue
}

// flushWait is one Flush call waiting at the barrier.
type flushWait struct {
	target   uint64        // the messages enqueued when Flush was called
	from     int64         // covered when Flush was called
	done     chan struct{} // closed when doneThrough reaches target
	lostAt   int64         // lostThrough then
	err      error         // the cause of the last loss or requeue it counts
	requeued int64         // requeued messages it waited for, numbered again beyond target
}

// add registers a Flush with the given target; the returned wait's done
// channel is closed already if there is nothing to wait for.
func (b *barrier) add(target uint64) *flushWait {
	w := &flushWait{target: target, from: b.covered, done: make(chan struct{}), err: b.lastErr}
	if b.doneThrough >= target {
		w.lostAt = b.lostThrough
		close(w.done)
		return w
	}
	if b.waiters == nil {
		b.waiters = make(map[*flushWait]struct{})
	}
	b.waiters[w] = struct{}{}
	return w
}

// remove forgets a Flush whose context ended.
func (b *barrier) remove(w *flushWait) { delete(b.waiters, w) }

// result returns the report of a Flush whose wait is done, and moves
// covered on.
func (b *barrier) result(w *flushWait) error {
	b.covered = max(b.covered, w.lostAt)
	if n := w.lostAt - w.from + w.requeued; n > 0 {
		return &DeliveryError{Undelivered: n, Err: w.err}
	}
	return nil
}

// finish records the outcome of the batch s covering the messages (from,
// s.to].
func (b *barrier) finish(from uint64, s span) {
	b.finished += int64(s.to - from)
	if s.lost > 0 {
		b.lost += s.lost
		b.lastAny = s.err
	}
	if from != b.doneThrough {
		if b.pending == nil {
			b.pending = make(map[uint64]span)
		}
		b.pending[from] = s
		return
	}
	b.advance(s)
	for {
		s, ok := b.pending[b.doneThrough]
		if !ok {
			break
		}
		delete(b.pending, b.doneThrough)
		b.advance(s)
	}
}

func (b *barrier) advance(s span) {
	b.doneThrough = s.to
	if s.lost > 0 {
		b.lostThrough += s.lost
		b.lastErr = s.err
	}
	for w := range b.waiters {
		if again := requeuedBeyond(s, w.target); again > 0 {
			w.requeued += again
			w.err = s.err
		} else if s.lost > 0 {
			w.err = s.err
		}
		if w.target <= s.to {
			w.lostAt = b.lostThrough
			close(w.done)
			delete(b.waiters, w)
		}
	}
}

// park counts n messages of the batch numbered from from on, parked by
// the spool with cause (they are not numbered again until released), as
// not delivered for every Flush that waits for the batch. A Flush begun
// later counts the messages parked then when it begins (batcher.beginFlush).
func (b *barrier) park(from uint64, n int64, cause error) {
	for w := range b.waiters {
		if w.target > from {
			w.requeued += n
			w.err = cause
		}
	}
}

// requeuedBeyond returns the requeued messages of s that a Flush waiting
// for the messages up to target does not wait for under their new numbers.
func requeuedBeyond(s span, target uint64) int64 {
	if s.again > target {
		return s.requeued
	}
	return 0
}

// shutdownResult returns Shutdown's report: the losses no finished Flush
// had reported when Shutdown began (from is covered then), counting every
// message enqueued (numbered, or held back by the spool) but not yet
// finished as undelivered.
func (b *barrier) shutdownResult(from int64, enqueued int64, cause error) error {
	unfinished := enqueued - b.finished
	n := b.lost - from + unfinished
	if n <= 0 {
		return nil
	}
	err := b.lastAny
	if unfinished > 0 {
		err = cause
	}
	return &DeliveryError{Undelivered: n, Err: err}
}
