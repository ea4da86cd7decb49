package analytics

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestArenaReusesSettledSlabs checks the arena's bookkeeping: a copy is
// its own (the caller may reuse its buffer), a slab is filled again only
// once every message in it is released, and a message too large for a
// slab is never put in one.
func TestArenaReusesSettledSlabs(t *testing.T) {
	t.Parallel()
	a := arena{keep: 1}
	msg := bytes.Repeat([]byte("x"), 1000)
	data, s := a.copy(msg)
	msg[0] = 'y'
	require.Equal(t, byte('x'), data[0], "the copy is its own")
	require.Len(t, data, 1000)
	require.Equal(t, 1000, cap(data))
	// Fill the first slab, and one message into a second.
	held := [][]byte{data}
	slabs := []*slab{s}
	for len(slabs) < 2 || slabs[len(slabs)-1] == s {
		d, s2 := a.copy(bytes.Repeat([]byte{byte(len(held))}, 1000))
		held = append(held, d)
		slabs = append(slabs, s2)
	}
	second := slabs[len(slabs)-1]
	require.NotSame(t, s, second, "a full slab was filled further")
	require.Equal(t, slabSize/1000, len(held)-1, "messages of 1000 bytes the first slab held")
	// Release all of the first slab but one message: it must not be
	// reused while that one is unsettled.
	for _, sl := range slabs[:len(slabs)-2] {
		a.release(sl, 1)
	}
	require.Empty(t, a.free, "slab freed with a message in it")
	last := held[len(held)-2]
	a.release(slabs[len(slabs)-2], 1)
	require.Equal(t, []*slab{s}, a.free, "slab not freed once its messages were settled")
	require.Equal(t, bytes.Repeat([]byte{byte(len(held) - 2)}, 1000), last, "a message's bytes changed before it was released")
	// The current slab, once empty, is filled from its start again.
	a.release(second, 1)
	require.Empty(t, second.buf, "an empty current slab keeps its bytes")
	require.Same(t, second, a.cur)
	big := bytes.Repeat([]byte("b"), maxSlabbed+1)
	d, sb := a.copy(big)
	require.Nil(t, sb, "a message over maxSlabbed went into a slab")
	require.Equal(t, big, d)
}

// TestArenaTrimKeepsSpares checks that released slabs are all kept for
// reuse until a trim, which lets go of all but keep.
func TestArenaTrimKeepsSpares(t *testing.T) {
	t.Parallel()
	a := arena{keep: 2}
	var held []*slab
	for range 5 {
		a.cur = nil // each copy in a slab of its own
		_, s := a.copy([]byte("m"))
		held = append(held, s)
	}
	a.cur = nil
	for _, s := range held {
		a.release(s, 1)
	}
	require.Len(t, a.free, 5, "released slabs kept before a trim")
	trimSpares(&a.free, a.keep)
	require.Len(t, a.free, 2, "spare slabs a trim keeps")
	_, s := a.copy([]byte("n"))
	require.Same(t, held[1], s, "a new message did not reuse a spare slab")
}
