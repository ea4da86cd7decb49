package analytics

import (
	"encoding/binary"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// BenchmarkAppendUUID is the cost of a message id: 16 bytes from the
// encoder's ChaCha8 generator and their text form.
func BenchmarkAppendUUID(b *testing.B) {
	e := &encoder{}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for range b.N {
		buf = appendUUID(buf[:0], e.random())
	}
}

// TestAppendUUIDBits: the text of a message id is the canonical form of
// its 16 bytes (as github.com/google/uuid writes it) with the version 4
// and RFC 4122 variant bits set, for fixed and random bytes.
func TestAppendUUIDBits(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "01234567-89ab-4def-bedc-ba9876543210", string(appendUUIDBits(nil, 0x0123456789abcdef, 0xfedcba9876543210)))
	g := (&encoder{}).random()
	for range 10_000 {
		hi, lo := g.Uint64(), g.Uint64()
		got := string(appendUUIDBits([]byte("x"), hi, lo))
		var u uuid.UUID
		binary.BigEndian.PutUint64(u[:8], hi)
		binary.BigEndian.PutUint64(u[8:], lo)
		u[6] = u[6]&0x0f | 0x40
		u[8] = u[8]&0x3f | 0x80
		require.Equal(t, "x"+u.String(), got, "bytes %016x%016x", hi, lo)
		p, err := uuid.Parse(got[1:])
		require.NoError(t, err, got)
		require.Equal(t, uuid.Version(4), p.Version(), got)
		require.Equal(t, uuid.RFC4122, p.Variant(), got)
	}
}
