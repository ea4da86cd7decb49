package transport

import (
	"io"
	"testing"
)

// TestBodyFreedOnlyWhenUnread: a Body goes back to its owner's pool only
// once the owner has released it and every reader is closed, in either
// order; a closed reader never reads the buffer again.
func TestBodyFreedOnlyWhenUnread(t *testing.T) {
	freed := 0
	b := NewBody(func(*Body) { freed++ })
	b.Buf = []byte("hello")
	b.Hold()
	r1, _ := b.open()
	r2, _ := b.open()
	b.Release()
	if freed != 0 {
		t.Fatal("freed while two readers are open")
	}
	got, err := io.ReadAll(r1)
	if err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v", got, err)
	}
	_ = r1.(io.Closer).Close()
	_ = r1.(io.Closer).Close() // twice: no second release
	if freed != 0 {
		t.Fatal("freed while a reader is open")
	}
	_ = r2.(io.Closer).Close()
	if freed != 1 {
		t.Fatalf("freed %d times once unread, want 1", freed)
	}
	if _, err := r2.Read(make([]byte, 1)); err == nil {
		t.Fatal("a closed reader read")
	}
}
