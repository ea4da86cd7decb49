package main

import (
	"context"
	"errors"
	"hash/maphash"
	"net/http"
	"sync"
	"sync/atomic"

	analytics "github.com/cdpkit/analytics-go"
)

// slotState is where one record of a run is.
type slotState uint8

const (
	stateFree       slotState = iota // not reserved
	stateReserved                    // read, not yet decoded
	statePending                     // enqueued, waiting for its outcome
	stateDelivered                   // the API accepted it
	stateRefused                     // the API refused it for good (a 400): final, reported
	stateInvalid                     // it could not be made a valid message: final, reported
	stateSkipped                     // kept out by the time window: final
	stateBlank                       // an empty line: final
	stateFailed                      // not delivered for a reason that may pass: reported, not final
	stateKeyRefused                  // refused for the key (401/403): not final
	stateUnsent                      // never sent: the run stopped first, or no outcome came
)

// final reports whether a record in state s needs nothing more: a re-run
// would do nothing else with it.
func (s slotState) final() bool {
	switch s {
	case stateDelivered, stateRefused, stateInvalid, stateSkipped, stateBlank:
		return true
	}
	return false
}

// A slot is the tracker's record of one record of the run. Its state is
// atomic: the goroutine that moves a record on writes the other fields
// first and the state last, and a reader of the state may read them once
// it has seen a final one. While a record is pending, id and next belong to
// the shard of ids that holds it.
type slot struct {
	state atomic.Uint32 // a slotState
	err   error         // why it was refused, invalid or not delivered
	id    string        // the messageId it was sent with, if it was
	next  int64         // the next pending record with an id of the same hash, or -1
	ch    *chunk
	rec   int32 // its index in ch.recs
}

func (s *slot) load() slotState { return slotState(s.state.Load()) }

// idShards is how many locks the index of pending messageIds is split
// over, so that the workers that register ids and the senders whose
// callbacks resolve them seldom wait for each other.
const idShards = 64

// idShard is one part of the index of pending messageIds: a hash of the
// id to the first pending record with an id of that hash (the others
// follow through slot.next). mu guards m and the chains through it.
type idShard struct {
	mu sync.Mutex
	m  map[uint64]int64
	_  [40]byte // a cache line of its own
}

// stopKind says why a run stopped before the end of its inputs.
type stopKind int

const (
	stopNone        stopKind = iota
	stopUndelivered          // a message failed for a reason that may pass
	stopKey                  // the API refused the key
	stopInterrupted          // SIGINT or SIGTERM
	stopInput                // an input could not be read further
)

// tracker follows every record of a run from the moment the reader reads
// it to its final outcome, in a ring of slots indexed by sequence number.
// The reader reserves slots (reserve blocks while the window is full); a
// worker marks each record invalid, skipped or blank, or registers its
// messageId as pending before Enqueue; the client's callback resolves a
// pending messageId to its outcome; the committer (committer.go) takes the
// records whose outcomes are final off the tail, in order.
//
// A record's state is an atomic in its slot, and pending ids are indexed
// in shards with locks of their own, so that the hot path (register,
// resolve, settle) takes no lock the others share. The committer is woken
// only when the record at the tail becomes final: a record that becomes
// final stores its state, then reads tail; the committer stores tail, then
// reads the state at it, so one of the two always sees the other.
//
// mu guards the fields below it: the window (head, held), the reason the
// run stopped, and the wait for room. It is held for bookkeeping only,
// never across I/O, Enqueue or a wait other than space's.
type tracker struct {
	window   int64 // records between tail and head at most
	maxBytes int64 // bytes of chunk text held at most
	counts   *counts
	wake     chan struct{} // a token when the record at the tail became final (for the committer)
	halted   chan struct{} // closed when the run stops
	stopFlag atomic.Bool   // the run stopped: halted, for the workers' hot path
	abandon  atomic.Bool   // the client is being shut down: context errors are no outcome
	closed   atomic.Bool   // the run is over: late outcomes are ignored
	tail     atomic.Int64  // the first sequence number not committed; only the committer moves it
	slots    []slot
	ids      [idShards]idShard
	seed     maphash.Seed

	mu      sync.Mutex
	head    int64     // the next sequence number to reserve
	held    int64     // bytes of text of the chunks not yet released
	space   sync.Cond // signalled when tail moves or the run stops
	stop    stopKind
	stopErr error
	readErr error // the reader could not read an input to its end (a soft stop: what was read is still sent)
}

func newTracker(window int, maxBytes int64, c *counts) *tracker {
	t := &tracker{window: int64(window), maxBytes: maxBytes, counts: c, wake: make(chan struct{}, 1), halted: make(chan struct{}),
		slots: make([]slot, window), seed: maphash.MakeSeed()}
	for i := range t.ids {
		t.ids[i].m = make(map[uint64]int64)
	}
	t.space.L = &t.mu
	return t
}

func (t *tracker) slot(seq int64) *slot { return &t.slots[seq%t.window] }

// finished stores the state of the record seq, a state after pending, and
// wakes the committer if the record is at the tail.
func (t *tracker) finished(seq int64, s *slot, state slotState) {
	s.state.Store(uint32(state))
	if t.tail.Load() == seq {
		select {
		case t.wake <- struct{}{}:
		default: // a token is waiting already
		}
	}
}

// reserve gives the records of ch their sequence numbers, waiting while
// the window of records (or of held text) is full. It returns false when
// the run has stopped.
func (t *tracker) reserve(ch *chunk) bool {
	n := int64(len(ch.recs))
	t.mu.Lock()
	defer t.mu.Unlock()
	for t.stop == stopNone && (t.head+n-t.tail.Load() > t.window || t.held > t.maxBytes && t.head > t.tail.Load()) {
		t.space.Wait()
	}
	if t.stop != stopNone {
		return false
	}
	ch.first, ch.left = t.head, len(ch.recs)
	for i := range ch.recs {
		s := t.slot(t.head + int64(i))
		s.err, s.id, s.next, s.ch, s.rec = nil, "", -1, ch, int32(i)
		s.state.Store(uint32(stateReserved))
	}
	t.head += n
	t.held += int64(cap(ch.buf))
	return true
}

// halt stops the run for reason kind (the first reason given stays):
// reserve returns false from now on, and workers stop sending.
func (t *tracker) halt(kind stopKind, err error) {
	t.mu.Lock()
	t.haltLocked(kind, err)
	t.mu.Unlock()
}

func (t *tracker) haltLocked(kind stopKind, err error) {
	if t.stop == stopNone {
		t.stop, t.stopErr = kind, err
		t.stopFlag.Store(true)
		close(t.halted)
	}
	t.space.Broadcast()
}

// stopped returns why the run stopped, if it did.
func (t *tracker) stopped() (stopKind, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stop == stopNone && t.readErr != nil {
		return stopInput, t.readErr
	}
	return t.stop, t.stopErr
}

// haltedFor returns why the run was halted, if it was: stopped, without the
// soft stop of an input that could not be read to its end (after which
// what was read is still delivered).
func (t *tracker) haltedFor() stopKind {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stop
}

// readFailed records that an input could not be read further: the run
// ends there, after what was read is sent.
func (t *tracker) readFailed(err error) {
	t.mu.Lock()
	t.readErr = err
	t.mu.Unlock()
}

// settle gives the record seq a final state, or stateUnsent, without
// sending it.
func (t *tracker) settle(seq int64, state slotState, err error) {
	s := t.slot(seq)
	s.err = err
	t.finished(seq, s, state)
}

func (t *tracker) shard(id string) (*idShard, uint64) {
	h := maphash.String(t.seed, id)
	return &t.ids[h%idShards], h
}

// register marks the record seq pending under messageId id, before it is
// enqueued: its outcome may come before Enqueue returns.
func (t *tracker) register(seq int64, id string) {
	sh, h := t.shard(id)
	s := t.slot(seq)
	sh.mu.Lock()
	s.id, s.next = id, -1
	if first, ok := sh.m[h]; ok {
		last := t.slot(first)
		for last.next >= 0 {
			last = t.slot(last.next)
		}
		last.next = seq
	} else {
		sh.m[h] = seq
	}
	s.state.Store(uint32(statePending))
	sh.mu.Unlock()
}

// unregister undoes register for a record Enqueue refused, giving it state
// with err.
func (t *tracker) unregister(seq int64, state slotState, err error) {
	s := t.slot(seq)
	sh, h := t.shard(s.id)
	sh.mu.Lock()
	t.unlink(sh, h, seq, s)
	sh.mu.Unlock()
	s.err, s.id = err, ""
	t.finished(seq, s, state)
}

// unlink removes the pending record seq, whose id hashes to h, from its
// chain in sh; sh.mu is held.
func (t *tracker) unlink(sh *idShard, h uint64, seq int64, s *slot) {
	first := sh.m[h]
	if first == seq {
		if s.next >= 0 {
			sh.m[h] = s.next
		} else {
			delete(sh.m, h)
		}
	} else {
		prev := t.slot(first)
		for prev.next != seq {
			prev = t.slot(prev.next)
		}
		prev.next = s.next
	}
	s.next = -1 // s.id stays, for the bad file
}

// resolve is the client's callback: it gives the first pending record
// sent with r.MessageID its outcome. A refused key or a failure that may
// pass stops the run.
func (t *tracker) resolve(r analytics.Result) {
	if t.closed.Load() {
		return
	}
	sh, h := t.shard(r.MessageID)
	sh.mu.Lock()
	seq, ok := sh.m[h]
	for ok && t.slot(seq).id != r.MessageID {
		seq = t.slot(seq).next
		ok = seq >= 0
	}
	if !ok {
		sh.mu.Unlock()
		return
	}
	s := t.slot(seq)
	t.unlink(sh, h, seq, s)
	sh.mu.Unlock()
	s.err = r.Err
	var state slotState
	switch {
	case r.Err == nil:
		state = stateDelivered
		t.counts.delivered.Add(1)
	case t.abandon.Load() && (errors.Is(r.Err, context.Canceled) || errors.Is(r.Err, context.DeadlineExceeded)):
		state = stateUnsent
		t.counts.unsent.Add(1)
	case keyRefused(r.Err):
		state = stateKeyRefused
		t.counts.failed.Add(1)
		t.halt(stopKey, r.Err)
	case isFinal(r.Err):
		state = stateRefused
		t.counts.failed.Add(1)
	default:
		state = stateFailed
		t.counts.failed.Add(1)
		t.halt(stopUndelivered, r.Err)
	}
	t.finished(seq, s, state)
}

// keyRefused reports whether err is the API refusing the key: 401 or 403.
func keyRefused(err error) bool {
	var apiErr *analytics.APIError
	return errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden)
}

// isFinal reports whether a message that failed with err would fail again
// if sent again: the API refused it with a status that is not retried
// (and not for the key).
func isFinal(err error) bool {
	var apiErr *analytics.APIError
	return errors.As(err, &apiErr) && !apiErr.Retryable && !keyRefused(err)
}

// startAbandon marks that the client is being shut down with its queue
// abandoned: messages that come back with a context error were not sent.
func (t *tracker) startAbandon() { t.abandon.Store(true) }

// close ends the run's outcomes, once the client is shut down: records
// still pending get stateUnsent (no outcome came), and later callbacks are
// ignored.
func (t *tracker) close() {
	t.closed.Store(true)
	for i := range t.ids {
		sh := &t.ids[i]
		sh.mu.Lock()
		for _, first := range sh.m {
			for seq := first; seq >= 0; {
				s := t.slot(seq)
				next := s.next
				s.next = -1
				s.state.Store(uint32(stateUnsent))
				t.counts.unsent.Add(1)
				seq = next
			}
		}
		clear(sh.m)
		sh.mu.Unlock()
	}
	t.mu.Lock()
	t.space.Broadcast()
	t.mu.Unlock()
}
