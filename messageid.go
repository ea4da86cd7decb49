package analytics

import (
	"crypto/rand"
	"encoding/hex"
	mrand "math/rand/v2"

	"github.com/google/uuid"
)

// Message ids. A message without a MessageID gets a random (version 4)
// UUID, a uuid.UUID drawn from the encoder's own generator and written in
// its canonical form, or the next id of WithMessageIDs.
//
// google/uuid's own generators (uuid.New, uuid.NewRandomFromReader) are
// not used: they read into a UUID that escapes to the heap through
// io.ReadFull, one allocation per message, and Enqueue allocates nothing
// (TestEnqueueAllocs). The bits and the text are theirs: uuid_test.go
// checks ours against uuid.Parse and UUID.String.

// random returns the encoder's ChaCha8 generator (cryptographically strong,
// see math/rand/v2), seeding it from crypto/rand on first use, so that a
// message id costs neither a system call nor a lock. Encoders are pooled,
// so each generator serves many messages. crypto/rand.Read does not fail:
// since Go 1.24 it ends the program if the system's generator does.
func (e *encoder) random() *mrand.ChaCha8 {
	if e.rng == nil {
		var seed [32]byte
		_, _ = rand.Read(seed[:])
		e.rng = mrand.NewChaCha8(seed)
	}
	return e.rng
}

// newUUID returns a random UUID of version 4 (RFC 9562): 122 bits from the
// encoder's generator, with the version and variant bits set as
// uuid.NewRandom sets them.
func (e *encoder) newUUID() uuid.UUID {
	var id uuid.UUID
	_, _ = e.random().Read(id[:]) // never fails
	id[6] = id[6]&0x0f | 0x40     // version 4
	id[8] = id[8]&0x3f | 0x80     // variant 10 (RFC 9562)
	return id
}

// appendUUID appends the canonical text form of id, 8-4-4-4-12 lowercase
// hex digits as id.String() returns it, without allocating.
func appendUUID(dst []byte, id uuid.UUID) []byte {
	var b [36]byte
	hex.Encode(b[0:8], id[0:4])
	hex.Encode(b[9:13], id[4:6])
	hex.Encode(b[14:18], id[6:8])
	hex.Encode(b[19:23], id[8:10])
	hex.Encode(b[24:36], id[10:16])
	b[8], b[13], b[18], b[23] = '-', '-', '-', '-'
	return append(dst, b[:]...)
}

// newMessageID returns the messageId of a message that has none, as begin
// writes it: the next of WithMessageIDs, or a new random UUID.
func (e *encoder) newMessageID() string {
	if e.newID != nil {
		return e.newID()
	}
	var b [36]byte
	return string(appendUUID(b[:0], e.newUUID()))
}
