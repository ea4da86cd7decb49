package queue_test

import (
	"testing"

	"github.com/cdpkit/analytics-go/internal/queue"
)

func TestBoundsAndFIFO(t *testing.T) {
	q := queue.New[int](3, 100)
	for i := range 3 {
		if !q.Push(i, 10) {
			t.Fatalf("Push %d refused", i)
		}
	}
	if q.Push(3, 1) {
		t.Fatal("Push over the item bound accepted")
	}
	for want := range 2 {
		v, size, ok := q.Pop()
		if !ok || v != want || size != 10 {
			t.Fatalf("Pop = %d, %d, %v; want %d, 10, true", v, size, ok, want)
		}
	}
	if q.Push(3, 91) {
		t.Fatal("Push over the byte bound accepted")
	}
	if !q.Push(3, 90) {
		t.Fatal("Push up to the byte bound refused")
	}
	if n, b := q.Len(); n != 2 || b != 100 {
		t.Fatalf("Len = %d, %d; want 2, 100", n, b)
	}
	if size, ok := q.Peek(); !ok || size != 10 {
		t.Fatalf("Peek = %d, %v; want 10, true", size, ok)
	}
	for _, want := range []int{2, 3} {
		if v, _, _ := q.Pop(); v != want {
			t.Fatalf("Pop = %d, want %d", v, want)
		}
	}
	if _, _, ok := q.Pop(); ok {
		t.Fatal("Pop of an empty queue reported an item")
	}
	if _, ok := q.Peek(); ok {
		t.Fatal("Peek of an empty queue reported an item")
	}
}

// TestGrowAndShrink: the ring grows past its first size keeping order, and
// a drained burst lets its big ring go (Len still exact throughout).
func TestGrowAndShrink(t *testing.T) {
	const n = 5000
	q := queue.New[int](n, n)
	for round := range 2 {
		for i := range n {
			if !q.Push(i, 1) {
				t.Fatalf("round %d: Push %d refused", round, i)
			}
		}
		if items, bytes := q.Len(); items != n || bytes != n {
			t.Fatalf("Len = %d, %d", items, bytes)
		}
		for i := range n {
			if v, _, ok := q.Pop(); !ok || v != i {
				t.Fatalf("round %d: Pop = %d, %v; want %d", round, v, ok, i)
			}
		}
	}
}

// TestPopReleasesItems: a popped slot no longer refers to its item, so the
// queue never keeps memory a caller has taken.
func TestPopReleasesItems(t *testing.T) {
	q := queue.New[*[]byte](4, 1<<20)
	b := make([]byte, 1000)
	q.Push(&b, len(b))
	got, _, _ := q.Pop()
	if got != &b {
		t.Fatal("Pop returned another item")
	}
	// Push and pop past the old slot: had it kept the pointer, a
	// length check could not tell, but the ring must not grow either.
	for i := range 8 {
		x := make([]byte, i)
		q.Push(&x, i)
		q.Pop()
	}
	if n, bytes := q.Len(); n != 0 || bytes != 0 {
		t.Fatalf("Len = %d, %d after draining", n, bytes)
	}
}
