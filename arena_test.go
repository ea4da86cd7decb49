package analytics

import (
	"bytes"
	"testing"
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
	if data[0] != 'x' || len(data) != 1000 || cap(data) != 1000 {
		t.Fatalf("copy = %q… (len %d, cap %d), want a 1000-byte copy of its own", data[:1], len(data), cap(data))
	}
	// Fill the first slab, and one message into a second.
	held := [][]byte{data}
	slabs := []*slab{s}
	for len(slabs) < 2 || slabs[len(slabs)-1] == s {
		d, s2 := a.copy(bytes.Repeat([]byte{byte(len(held))}, 1000))
		held = append(held, d)
		slabs = append(slabs, s2)
	}
	second := slabs[len(slabs)-1]
	if second == s {
		t.Fatal("a full slab was filled further")
	}
	if want := slabSize / 1000; len(held)-1 != want {
		t.Fatalf("first slab held %d messages of 1000 bytes, want %d", len(held)-1, want)
	}
	// Release all of the first slab but one message: it must not be
	// reused while that one is unsettled.
	for _, sl := range slabs[:len(slabs)-2] {
		a.release(sl, 1)
	}
	if len(a.free) != 0 {
		t.Fatalf("slab freed with a message in it (%d free)", len(a.free))
	}
	last := held[len(held)-2]
	a.release(slabs[len(slabs)-2], 1)
	if len(a.free) != 1 || a.free[0] != s {
		t.Fatalf("slab not freed once its messages were settled: free = %v", a.free)
	}
	if !bytes.Equal(last, bytes.Repeat([]byte{byte(len(held) - 2)}, 1000)) {
		t.Fatal("a message's bytes changed before it was released")
	}
	// The current slab, once empty, is filled from its start again.
	a.release(second, 1)
	if len(second.buf) != 0 || a.cur != second {
		t.Fatalf("an empty current slab keeps %d bytes", len(second.buf))
	}
	big := bytes.Repeat([]byte("b"), maxSlabbed+1)
	if d, sb := a.copy(big); sb != nil || !bytes.Equal(d, big) {
		t.Fatalf("a message over maxSlabbed went into a slab (%v)", sb != nil)
	}
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
	if len(a.free) != 5 {
		t.Fatalf("%d of 5 released slabs kept before a trim", len(a.free))
	}
	trimSpares(&a.free, a.keep)
	if len(a.free) != 2 {
		t.Fatalf("trim kept %d spare slabs, want 2", len(a.free))
	}
	if _, s := a.copy([]byte("n")); s != held[1] {
		t.Fatal("a new message did not reuse a spare slab")
	}
}
