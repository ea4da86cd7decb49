// Package queue is a FIFO bounded both by its number of items and by their
// total size in bytes, with one consumer that takes batches from its head.
package queue

import (
	"context"
	"errors"
	"sync"
)

// Errors returned by Push and TryPush.
var (
	ErrFull   = errors.New("queue: full")
	ErrClosed = errors.New("queue: closed")
)

type entry[T any] struct {
	v    T
	size int
}

// Queue is a bounded FIFO. It is safe for concurrent use by many producers
// and one consumer.
type Queue[T any] struct {
	maxItems, maxBytes int
	// A batch is "full" when it holds batchItems items or its sizes plus
	// one separator byte between items reach batchBytes.
	batchItems, batchBytes int

	mu     sync.Mutex
	ring   []entry[T] // grows up to maxItems
	head   int
	n      int
	bytes  int
	closed bool
	// space is closed and replaced whenever room is made while a blocked
	// Push waits.
	space   chan struct{}
	waiters int

	ready chan struct{} // capacity 1: a full batch is waiting
	// refused is set when a push was refused for want of room, and cleared
	// by Cut: the queue is then as full as it gets, whatever its batch
	// thresholds say.
	refused bool
}

// New returns an empty queue holding at most maxItems items of at most
// maxBytes bytes in all. Ready signals when batchItems items or batchBytes
// bytes (counting one separator between items) are waiting.
func New[T any](maxItems, maxBytes, batchItems, batchBytes int) *Queue[T] {
	return &Queue[T]{
		maxItems: maxItems, maxBytes: maxBytes,
		batchItems: batchItems, batchBytes: batchBytes,
		ring:  make([]entry[T], min(maxItems, 64)),
		space: make(chan struct{}),
		ready: make(chan struct{}, 1),
	}
}

// TryPush appends v of the given size, or returns ErrFull or ErrClosed at
// once.
func (q *Queue[T]) TryPush(v T, size int) error {
	q.mu.Lock()
	err := q.pushLocked(v, size)
	q.mu.Unlock()
	return err
}

// Push appends v, waiting for room until ctx ends or the queue is closed.
func (q *Queue[T]) Push(ctx context.Context, v T, size int) error {
	for {
		q.mu.Lock()
		err := q.pushLocked(v, size)
		if err != ErrFull {
			q.mu.Unlock()
			return err
		}
		space := q.space
		q.waiters++
		q.mu.Unlock()
		select {
		case <-space:
			q.mu.Lock()
			q.waiters--
			q.mu.Unlock()
		case <-ctx.Done():
			q.mu.Lock()
			q.waiters--
			q.mu.Unlock()
			return ctx.Err()
		}
	}
}

func (q *Queue[T]) pushLocked(v T, size int) error {
	if q.closed {
		return ErrClosed
	}
	if q.n >= q.maxItems || q.bytes+size > q.maxBytes {
		// A queue smaller than a batch fills up before a batch does:
		// tell the consumer, or nothing moves until its next tick.
		q.refused = true
		q.signal()
		return ErrFull
	}
	if q.n == len(q.ring) {
		q.grow()
	}
	q.ring[(q.head+q.n)%len(q.ring)] = entry[T]{v, size}
	q.n++
	q.bytes += size
	if q.n >= q.batchItems || q.bytes+q.n-1 >= q.batchBytes {
		q.signal()
	}
	return nil
}

func (q *Queue[T]) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *Queue[T]) grow() {
	bigger := make([]entry[T], min(max(2*len(q.ring), 1), q.maxItems))
	for i := range q.n {
		bigger[i] = q.ring[(q.head+i)%len(q.ring)]
	}
	q.ring, q.head = bigger, 0
}

// Ready signals (without a guarantee of one signal per batch) that a full
// batch may be waiting. The consumer should drain full batches with Cut
// after each signal.
func (q *Queue[T]) Ready() <-chan struct{} { return q.ready }

// Full reports whether a full batch is waiting, or the queue refused a push
// since the last Cut.
func (q *Queue[T]) Full() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n >= q.batchItems || q.n > 0 && (q.refused || q.bytes+q.n-1 >= q.batchBytes)
}

// Cut removes items from the head, appending them to dst, until limit items
// are taken, the next item would bring the batch over batchBytes, or the
// queue is empty. It always takes at least one item if there is one. It
// returns the extended dst and the batch's size in bytes, separators
// included.
func (q *Queue[T]) Cut(dst []T, limit int) ([]T, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	size := 0
	taken := 0
	for q.n > 0 && taken < limit && taken < q.batchItems {
		e := &q.ring[q.head]
		next := size + e.size
		if taken > 0 {
			next++ // separator
		}
		if taken > 0 && next > q.batchBytes {
			break
		}
		dst = append(dst, e.v)
		size = next
		q.bytes -= e.size
		var zero entry[T]
		*e = zero
		q.head = (q.head + 1) % len(q.ring)
		q.n--
		taken++
	}
	if taken > 0 {
		q.refused = false
	}
	if taken > 0 && q.waiters > 0 {
		close(q.space)
		q.space = make(chan struct{})
	}
	if q.n == 0 && len(q.ring) > 1024 {
		// Let a burst's ring go.
		q.ring, q.head = make([]entry[T], 64), 0
	}
	return dst, size
}

// Len returns the number of items and bytes waiting.
func (q *Queue[T]) Len() (items, bytes int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n, q.bytes
}

// Close makes later pushes fail with ErrClosed and wakes blocked ones. Items
// already queued stay for the consumer.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.closed = true
	close(q.space)
	q.space = make(chan struct{})
}

// Closed reports whether Close has been called.
func (q *Queue[T]) Closed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}
