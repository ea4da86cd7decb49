package analytics

import "bytes"

// slabSize is the size of the blocks the queue keeps messages' bytes in.
const slabSize = 64 << 10

// maxSlabbed is the largest message copied into a slab. A larger one gets
// an allocation of its own, so that the unused end of a slab is at most an
// eighth of it.
const maxSlabbed = slabSize / 8

// slab is a block of queued messages' bytes.
type slab struct {
	buf  []byte // the bytes used so far; cap is slabSize
	refs int    // items whose data lies in buf and are not yet settled
}

// arena holds the bytes of queued messages, so that queueing one costs a
// copy into a shared slab instead of an allocation of its own: with
// thousands of messages a second, one allocation per message is most of
// what the garbage collector has to do. A slab is reused once every
// message in it is settled (delivered or lost, and reported).
//
// An arena is owned by its batcher's queue and guarded by batcher.mu:
// every method is called with mu held.
//
// Memory: the slabs still holding a message, queued or in flight, plus
// the spare slabs, plus the copies of the messages over maxSlabbed.
// Queued messages are consecutive in the slabs, so they take their bytes
// plus at most an eighth of each slab left unused at its end, plus the one
// slab they begin in (which may hold messages already reported); a batch
// in flight pins the slabs its messages are in, the first and last of
// which it may share with the batches next to it, reported or not.
// Released slabs are all kept until the next trim: each flush tick keeps
// keep of them (2×(WithMaxInFlight+1), 640 KiB by default), and the queue
// falling idle keeps one. So the spares never make the arena larger than
// it has been, and a new slab, whose 64 KiB the runtime zeroes, is rarely
// made while producers wait on the lock.
type arena struct {
	cur  *slab   // the slab being filled; nil before the first message
	free []*slab // released slabs, for reuse
	keep int     // the spare slabs a trim on the flush tick keeps
}

// copy returns a copy of p, and the slab it is in (nil for a message too
// large for a slab, which has an allocation of its own). The caller
// releases the slab with release once the message is settled.
func (a *arena) copy(p []byte) ([]byte, *slab) {
	if len(p) > maxSlabbed {
		return bytes.Clone(p), nil
	}
	s := a.cur
	if s == nil || len(s.buf)+len(p) > cap(s.buf) {
		if s != nil && s.refs == 0 {
			a.put(s)
		}
		s = a.get()
		a.cur = s
	}
	start := len(s.buf)
	s.buf = append(s.buf, p...)
	s.refs++
	return s.buf[start:len(s.buf):len(s.buf)], s
}

// release records that n messages in s are settled.
func (a *arena) release(s *slab, n int) {
	s.refs -= n
	switch {
	case s.refs > 0:
	case s == a.cur:
		s.buf = s.buf[:0] // nothing refers to it: fill it again from the start
	default:
		a.put(s)
	}
}

func (a *arena) get() *slab {
	if s := takeSpare(&a.free); s != nil {
		return s
	}
	return &slab{buf: make([]byte, 0, slabSize)}
}

func (a *arena) put(s *slab) {
	s.buf = s.buf[:0]
	a.free = append(a.free, s)
}

// takeSpare removes and returns the last of spares, or nil if there is none.
func takeSpare[T any](spares *[]*T) *T {
	n := len(*spares)
	if n == 0 {
		return nil
	}
	v := (*spares)[n-1]
	(*spares)[n-1] = nil
	*spares = (*spares)[:n-1]
	return v
}

// trimSpares lets go of the spares beyond the first keep.
func trimSpares[T any](spares *[]*T, keep int) {
	if len(*spares) > keep {
		clear((*spares)[keep:])
		*spares = (*spares)[:keep]
	}
}
