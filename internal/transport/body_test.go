package transport

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"testing"
	"testing/iotest"
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
	if b.Release() {
		t.Fatal("Release reported the Body unread while two readers are open")
	}
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

// TestBodyReleaseReportsUnread: Release reports true when no reader is
// open, the readers go-retryablehttp opens and closes (one to take the
// length, one per attempt) included, and the Body is freed then.
func TestBodyReleaseReportsUnread(t *testing.T) {
	freed := 0
	b := NewBody(func(*Body) { freed++ })
	b.Buf = []byte("hello")
	b.Hold()
	for range 2 {
		r, _ := b.open()
		_, _ = io.ReadAll(r)
		_ = r.(io.Closer).Close()
	}
	if !b.Release() || freed != 1 {
		t.Fatalf("Release with every reader closed: freed %d times, want 1 and true", freed)
	}
}

// TestBodyHeadBufTail: a Body reads as Head, Buf and the reader's Tail, in
// pieces of any size that cross from one into the next, and Len counts the
// three; a Buf that is empty reads as nothing.
func TestBodyHeadBufTail(t *testing.T) {
	for _, buf := range []string{`{"n":1},{"n":2}`, ""} {
		b := NewBody(nil)
		b.Head, b.Buf = `{"batch":[`, []byte(buf)
		b.Tail = func(dst []byte) []byte { return append(dst, `],"sentAt":"t"}`...) }
		want := `{"batch":[` + buf + `],"sentAt":"t"}`
		b.Hold()
		for _, size := range []int{1, 2, 3, 7, 10, 11, len(want), 4096} {
			r, _ := b.open()
			if l := r.(interface{ Len() int }).Len(); l != len(want) {
				t.Errorf("Len %d, want %d", l, len(want))
			}
			var got []byte
			p := make([]byte, size)
			for {
				n, err := r.Read(p)
				got = append(got, p[:n]...)
				if err == io.EOF {
					break
				}
				if err != nil || n == 0 {
					t.Fatalf("pieces of %d: read %d, %v", size, n, err)
				}
			}
			if string(got) != want {
				t.Errorf("pieces of %d: read %q, want %q", size, got, want)
			}
			_ = r.(io.Closer).Close()
		}
		b.Release()
	}
}

// TestBodyTailPerReader: every reader of a Body with a Tail gets the Tail
// written anew when it is opened, after the same Buf, and Len counts it;
// reads in small pieces cross from Buf into the tail.
func TestBodyTailPerReader(t *testing.T) {
	b := NewBody(nil)
	b.Buf = []byte(`{"batch":[1],"sentAt":`)
	n := 0
	b.Tail = func(dst []byte) []byte {
		n++
		return append(dst, fmt.Sprintf(`"t%d"}`, n)...)
	}
	b.Hold()
	for i, want := range []string{`{"batch":[1],"sentAt":"t1"}`, `{"batch":[1],"sentAt":"t2"}`} {
		r, _ := b.open()
		if l := r.(interface{ Len() int }).Len(); l != len(want) {
			t.Errorf("reader %d: Len %d, want %d", i, l, len(want))
		}
		got, err := io.ReadAll(iotest.OneByteReader(r))
		if err != nil || string(got) != want {
			t.Errorf("reader %d read %q, %v; want %q", i, got, err, want)
		}
		_ = r.(io.Closer).Close()
	}
	b.Release()
}

// TestAppendGzipEnd: a gzip stream flushed to a byte boundary and ended by
// AppendGzipEnd decodes to the data before and the tail, with a valid
// checksum, for several tails after the same start.
func TestAppendGzipEnd(t *testing.T) {
	head := []byte(strings.Repeat(`{"type":"track","event":"Compressible"},`, 50))
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
	_, _ = zw.Write(head)
	if err := zw.Flush(); err != nil {
		t.Fatal(err)
	}
	start := z.Bytes()
	for _, tail := range []string{`"2026-01-02T03:04:05.000Z"}`, `"2026-01-02T03:05:05.000Z"}`, ""} {
		stream := AppendGzipEnd(bytes.Clone(start), crc32.ChecksumIEEE(head), len(head), []byte(tail))
		if len(stream) != len(start)+len(tail)+GzipEndBytes {
			t.Errorf("appended %d bytes, want %d", len(stream)-len(start), len(tail)+GzipEndBytes)
		}
		zr, err := gzip.NewReader(bytes.NewReader(stream))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("tail %q: %v", tail, err)
		}
		if string(got) != string(head)+tail {
			t.Errorf("tail %q: decoded %d bytes, want %d", tail, len(got), len(head)+len(tail))
		}
	}
}
