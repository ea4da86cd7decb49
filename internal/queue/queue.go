// Package queue is a FIFO bounded both by its number of items and by the
// total of their sizes. It knows nothing of what the items are or how they
// are used: a caller gives each item's size when pushing it.
package queue

// Queue is a bounded FIFO ring. It is not safe for concurrent use: its
// owner serializes calls (the analytics batcher holds its lock around
// every call).
type Queue[T any] struct {
	maxItems, maxBytes int

	ring  []entry[T] // grows up to maxItems, shrinks when emptied
	head  int
	n     int
	bytes int
}

type entry[T any] struct {
	v    T
	size int
}

// minRing is the ring's size when empty.
const minRing = 64

// New returns an empty queue that holds at most maxItems items whose sizes
// add up to at most maxBytes.
func New[T any](maxItems, maxBytes int) *Queue[T] {
	return &Queue[T]{maxItems: maxItems, maxBytes: maxBytes, ring: make([]entry[T], min(maxItems, minRing))}
}

// Fits reports whether an item of the given size would be accepted by
// Push now.
func (q *Queue[T]) Fits(size int) bool {
	return q.n < q.maxItems && q.bytes+size <= q.maxBytes
}

// Push appends v of the given size and reports true, or reports false and
// leaves the queue unchanged if v would exceed either bound.
func (q *Queue[T]) Push(v T, size int) bool {
	if !q.Fits(size) {
		return false
	}
	if q.n == len(q.ring) {
		bigger := make([]entry[T], min(max(2*len(q.ring), 1), q.maxItems))
		for i := range q.n {
			bigger[i] = q.ring[(q.head+i)%len(q.ring)]
		}
		q.ring, q.head = bigger, 0
	}
	q.ring[(q.head+q.n)%len(q.ring)] = entry[T]{v, size}
	q.n++
	q.bytes += size
	return true
}

// Peek returns the size of the item at the head, and false if the queue
// is empty.
func (q *Queue[T]) Peek() (size int, ok bool) {
	if q.n == 0 {
		return 0, false
	}
	return q.ring[q.head].size, true
}

// Pop removes and returns the item at the head and its size; ok is false
// if the queue is empty.
func (q *Queue[T]) Pop() (v T, size int, ok bool) {
	if q.n == 0 {
		return v, 0, false
	}
	e := &q.ring[q.head]
	v, size = e.v, e.size
	*e = entry[T]{} // let the item go
	q.head = (q.head + 1) % len(q.ring)
	q.n--
	q.bytes -= size
	if q.n == 0 && len(q.ring) > 16*minRing {
		// Let a burst's ring go.
		q.ring, q.head = make([]entry[T], min(q.maxItems, minRing)), 0
	}
	return v, size, true
}

// Len returns the number of items and the total of their sizes.
func (q *Queue[T]) Len() (items, bytes int) { return q.n, q.bytes }

// Cap returns the bounds the queue was made with.
func (q *Queue[T]) Cap() (items, bytes int) { return q.maxItems, q.maxBytes }
