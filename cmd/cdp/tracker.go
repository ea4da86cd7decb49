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

// A slot is the tracker's record of one record of the run.
type slot struct {
	state slotState
	err   error  // why it was refused, invalid or not delivered
	id    string // its messageId, while pending
	next  int64  // the next pending record with an id of the same hash, or -1
	ch    *chunk
	rec   int32 // its index in ch.recs
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
// pending messageId to its outcome; the committer (see committer.go) takes
// the records whose outcomes are all final, in order, off the tail.
//
// mu guards every field below it. It is held for bookkeeping only, never
// across I/O, Enqueue or a wait other than space's.
type tracker struct {
	window   int64 // records between tail and head at most
	maxBytes int64 // bytes of chunk text held at most
	counts   *counts
	wake     chan struct{} // a token when a record became final (for the committer)
	halted   chan struct{} // closed when the run stops
	stopFlag atomic.Bool   // the run stopped: halted, for the workers' hot path

	mu      sync.Mutex
	slots   []slot
	head    int64 // the next sequence number to reserve
	tail    int64 // the first sequence number not committed
	held    int64 // bytes of text of the chunks not yet released
	byID    map[uint64]int64
	seed    maphash.Seed
	space   sync.Cond // signalled when tail moves or the run stops
	stop    stopKind
	stopErr error
	readErr error // the reader could not read an input to its end (a soft stop: what was read is still sent)
	abandon bool  // the client is being shut down: context errors are no outcome
	closed  bool  // the run is over: late outcomes are ignored
}

func newTracker(window int, maxBytes int64, c *counts) *tracker {
	t := &tracker{window: int64(window), maxBytes: maxBytes, counts: c, wake: make(chan struct{}, 1), halted: make(chan struct{}),
		slots: make([]slot, window), byID: make(map[uint64]int64), seed: maphash.MakeSeed()}
	t.space.L = &t.mu
	return t
}

func (t *tracker) slot(seq int64) *slot { return &t.slots[seq%t.window] }

func (t *tracker) signal() {
	select {
	case t.wake <- struct{}{}:
	default: // a token is waiting already
	}
}

// reserve gives the records of ch their sequence numbers, waiting while
// the window of records (or of held text) is full. It returns false when
// the run has stopped.
func (t *tracker) reserve(ch *chunk) bool {
	n := int64(len(ch.recs))
	t.mu.Lock()
	defer t.mu.Unlock()
	for t.stop == stopNone && (t.head+n-t.tail > t.window || t.held > t.maxBytes && t.head > t.tail) {
		t.space.Wait()
	}
	if t.stop != stopNone {
		return false
	}
	ch.first, ch.left = t.head, len(ch.recs)
	for i := range ch.recs {
		*t.slot(t.head + int64(i)) = slot{state: stateReserved, ch: ch, rec: int32(i), next: -1}
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
	t.mu.Lock()
	s := t.slot(seq)
	s.state, s.err = state, err
	t.mu.Unlock()
	t.signal()
}

// register marks the record seq pending under messageId id, before it is
// enqueued: its outcome may come before Enqueue returns.
func (t *tracker) register(seq int64, id string) {
	h := maphash.String(t.seed, id)
	t.mu.Lock()
	s := t.slot(seq)
	s.state, s.id, s.next = statePending, id, -1
	if first, ok := t.byID[h]; ok {
		last := t.slot(first)
		for last.next >= 0 {
			last = t.slot(last.next)
		}
		last.next = seq
	} else {
		t.byID[h] = seq
	}
	t.mu.Unlock()
}

// unregister undoes register for a record Enqueue refused, giving it state
// with err.
func (t *tracker) unregister(seq int64, state slotState, err error) {
	t.mu.Lock()
	s := t.slot(seq)
	t.unlink(seq, s)
	s.state, s.err, s.id = state, err, ""
	t.mu.Unlock()
	t.signal()
}

// unlink removes the pending record seq from its chain of byID.
func (t *tracker) unlink(seq int64, s *slot) {
	h := maphash.String(t.seed, s.id)
	first := t.byID[h]
	if first == seq {
		if s.next >= 0 {
			t.byID[h] = s.next
		} else {
			delete(t.byID, h)
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
	h := maphash.String(t.seed, r.MessageID)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	seq, ok := t.byID[h]
	for ok && t.slot(seq).id != r.MessageID {
		seq = t.slot(seq).next
		ok = seq >= 0
	}
	if !ok {
		return
	}
	s := t.slot(seq)
	t.unlink(seq, s)
	s.err = r.Err
	switch {
	case r.Err == nil:
		s.state = stateDelivered
		t.counts.delivered.Add(1)
	case t.abandon && (errors.Is(r.Err, context.Canceled) || errors.Is(r.Err, context.DeadlineExceeded)):
		s.state = stateUnsent
		t.counts.unsent.Add(1)
	case keyRefused(r.Err):
		s.state = stateKeyRefused
		t.counts.failed.Add(1)
		t.haltLocked(stopKey, r.Err)
	case isFinal(r.Err):
		s.state = stateRefused
		t.counts.failed.Add(1)
	default:
		s.state = stateFailed
		t.counts.failed.Add(1)
		t.haltLocked(stopUndelivered, undeliveredError{seq: seq, err: r.Err})
	}
	t.signal()
}

// undeliveredError is the reason of a run stopped by a message that was
// not delivered; the committer names its line.
type undeliveredError struct {
	seq int64
	err error
}

func (e undeliveredError) Error() string { return e.err.Error() }

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
func (t *tracker) startAbandon() {
	t.mu.Lock()
	t.abandon = true
	t.mu.Unlock()
}

// close ends the run's outcomes: records still pending get stateUnsent
// (no outcome came), and later callbacks are ignored.
func (t *tracker) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for seq := t.tail; seq < t.head; seq++ {
		if s := t.slot(seq); s.state == statePending || s.state == stateReserved {
			s.state = stateUnsent
			t.counts.unsent.Add(1)
		}
	}
	clear(t.byID)
	t.space.Broadcast()
}
