package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	mrand "math/rand/v2"
	"strings"
)

// idFrom is --id-from: the messageId of a line is a hash of the line's
// text ("line") or of the values of the fields it names, so that a re-run
// of the same input sends the same messageIds and the API can tell the
// copies from new events, with or without a checkpoint.
type idFrom struct {
	line   bool
	fields []string // NDJSON keys (properties.order_id) or CSV columns
}

func parseIDFrom(s string) (*idFrom, error) {
	if s == "" {
		return nil, nil
	}
	if s == "line" {
		return &idFrom{line: true}, nil
	}
	f := &idFrom{}
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, errors.New("--id-from: want line, or fields separated by commas such as userId,event,timestamp")
		}
		f.fields = append(f.fields, name)
	}
	return f, nil
}

// idMaker makes the messageIds of the lines that have none: random ones;
// with a checkpoint, ones derived from the checkpoint's run id and the
// line's place and text, so that a resumed run sends a line again with the
// same id; with --id-from, ones derived from the line's text or fields. An
// idMaker belongs to one goroutine.
type idMaker struct {
	run  string  // the checkpoint's run id, or ""
	from *idFrom // --id-from, or nil
	rng  *mrand.ChaCha8
	h    hash.Hash
	sum  []byte
}

func newIDMaker(run string, from *idFrom) *idMaker {
	var seed [32]byte
	_, _ = rand.Read(seed[:])
	return &idMaker{run: run, from: from, rng: mrand.NewChaCha8(seed), h: sha256.New()}
}

// random returns a random UUID (version 4).
func (g *idMaker) random() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], g.rng.Uint64())
	binary.LittleEndian.PutUint64(b[8:], g.rng.Uint64())
	b[6] = b[6]&0x0f | 0x40
	return g.uuid(&b)
}

// positional returns the id of line number line of input, whose text is
// text, in the checkpoint's run.
func (g *idMaker) positional(input string, line int64, text []byte) string {
	g.h.Reset()
	g.h.Write([]byte(g.run))
	g.h.Write([]byte{0})
	g.h.Write([]byte(input))
	g.h.Write([]byte{0})
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(line))
	g.h.Write(n[:])
	g.h.Write(text)
	return g.hashed()
}

// fromParts returns the --id-from id of a line whose named values are
// parts (or, for --id-from line, whose text is the one part).
func (g *idMaker) fromParts(parts [][]byte) string {
	g.h.Reset()
	if g.from.line {
		g.h.Write([]byte("cdp line\x00"))
		g.h.Write(bytes.TrimSpace(parts[0]))
	} else {
		g.h.Write([]byte("cdp fields\x00"))
		for i, p := range parts {
			g.h.Write([]byte(g.from.fields[i]))
			g.h.Write([]byte{0})
			g.h.Write(p)
			g.h.Write([]byte{0})
		}
	}
	return g.hashed()
}

// hashed shapes the hash written so far as a UUID (version 8: custom).
func (g *idMaker) hashed() string {
	g.sum = g.h.Sum(g.sum[:0])
	var b [16]byte
	copy(b[:], g.sum)
	b[6] = b[6]&0x0f | 0x80
	return g.uuid(&b)
}

// uuid formats b, with the variant bits set, as a UUID.
func (g *idMaker) uuid(b *[16]byte) string {
	const digits = "0123456789abcdef"
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	j := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = digits[c>>4], digits[c&0x0f]
		j += 2
	}
	return string(out[:])
}

// newRunID returns a random id for a new checkpoint.
func newRunID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errIDMissing is the error of a line that lacks a field --id-from names.
func errIDMissing(field string) error {
	return fmt.Errorf("--id-from: %s is missing or empty, so the line has no id to be sent with", field)
}
