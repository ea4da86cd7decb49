package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	analytics "github.com/cdpkit/analytics-go"
)

// messageIDs gives each line of a run its messageId. With a checkpoint the
// id is derived from the run's id (kept in the checkpoint), the input's
// name, the line number and the line's text: a resumed run sends a line
// again with the same messageId, so the API can tell the copy of a batch
// that was in flight at a kill from a new event. Without a checkpoint every
// id is random, as the library's own are.
type messageIDs struct {
	run string // the checkpoint's run id; "" for random ids
}

// id returns the messageId of the line numbered line of input, whose text
// is text.
func (g messageIDs) id(input string, line int64, text []byte) string {
	var b [16]byte
	if g.run == "" {
		_, _ = rand.Read(b[:])
	} else {
		h := sha256.New()
		h.Write([]byte(g.run))
		h.Write([]byte{0})
		h.Write([]byte(input))
		h.Write([]byte{0})
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(line))
		h.Write(n[:])
		h.Write(text)
		copy(b[:], h.Sum(nil))
	}
	// Shape it as a UUID (version 4 bits for random ids, 8 for derived).
	if g.run == "" {
		b[6] = b[6]&0x0f | 0x40
	} else {
		b[6] = b[6]&0x0f | 0x80
	}
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newRunID returns a random id for a new checkpoint.
func newRunID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// withMessageID returns m with its MessageID set to id, unless the input
// gave it one, and the messageId it will be sent with. ok is false for a
// message type the command does not make.
func withMessageID(m analytics.Message, id string) (_ analytics.Message, _ string, ok bool) {
	set := func(p *string) string {
		if *p == "" {
			*p = id
		}
		return *p
	}
	switch v := m.(type) {
	case analytics.Identify:
		mid := set(&v.MessageID)
		return v, mid, true
	case analytics.Track:
		mid := set(&v.MessageID)
		return v, mid, true
	case analytics.Page:
		mid := set(&v.MessageID)
		return v, mid, true
	case analytics.Screen:
		mid := set(&v.MessageID)
		return v, mid, true
	case analytics.Group:
		mid := set(&v.MessageID)
		return v, mid, true
	case analytics.Alias:
		mid := set(&v.MessageID)
		return v, mid, true
	case analytics.DeletePerson:
		mid := set(&v.MessageID)
		return v, mid, true
	case analytics.SuppressPerson:
		mid := set(&v.MessageID)
		return v, mid, true
	case analytics.UnsuppressPerson:
		mid := set(&v.MessageID)
		return v, mid, true
	}
	return m, "", false
}
