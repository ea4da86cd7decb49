package analytics

import (
	"testing"

	"github.com/google/uuid"
)

// BenchmarkAppendUUID is the cost of a message id: 16 bytes from the
// encoder's ChaCha8 generator and their text form.
func BenchmarkAppendUUID(b *testing.B) {
	e := &encoder{}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for range b.N {
		buf = appendUUID(buf[:0], e.newUUID())
	}
}

// TestAppendUUIDBits: the text of a message id is the canonical form of
// its 16 bytes (as github.com/google/uuid writes it) with the version 4
// and RFC 4122 variant bits set, for fixed and random bytes.
func TestAppendUUIDBits(t *testing.T) {
	fixed := uuid.UUID{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0x4d, 0xef, 0xbe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10}
	if got, want := string(appendUUID(nil, fixed)), "01234567-89ab-4def-bedc-ba9876543210"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	e := &encoder{}
	for range 10_000 {
		u := e.newUUID()
		got := string(appendUUID([]byte("x"), u))
		if want := "x" + u.String(); got != want {
			t.Fatalf("bytes %x: got %s, want %s", u[:], got, want)
		}
		p, err := uuid.Parse(got[1:])
		if err != nil || p.Version() != 4 || p.Variant() != uuid.RFC4122 {
			t.Fatalf("%s: version %v, variant %v, %v", got, p.Version(), p.Variant(), err)
		}
	}
}
