package analytics

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzBatchQueue runs a sequence of pushes, pops and settlements, read
// from the input, against a batchQueue with small bounds, and checks what
// a sender relies on: messages come out once each, in order, with their
// own bytes even while their buffers are reused; a batch stays within the
// batch size and byte limit; a batch taken without asking for the open
// one is full; and the counts and bounds add up.
func FuzzBatchQueue(f *testing.F) {
	f.Add([]byte{0, 10, 0, 200, 0, 90, 1, 0, 2, 0, 0, 5, 1, 1, 2, 1})
	f.Add([]byte{0, 255, 0, 255, 0, 255, 0, 255, 1, 0, 1, 0, 1, 1, 2, 0, 2, 0})
	f.Add(bytes.Repeat([]byte{0, 7}, 40))
	f.Fuzz(func(t *testing.T, ops []byte) {
		const batchSize, batchBytes, maxItems, maxBytes = 5, 700, 12, 2000
		q := &batchQueue{maxItems: maxItems, maxBytes: maxBytes, batchSize: batchSize, batchBytes: batchBytes,
			keepSpare: 2}
		// A message is its number, repeated to its size: any mix-up
		// shows.
		message := func(n, size int) []byte {
			p := make([]byte, size)
			for i := 0; i+4 <= size; i += 4 {
				binary.LittleEndian.PutUint32(p[i:], uint32(n))
			}
			return p
		}
		check := func(it item, n int) {
			if !bytes.Equal(it.data, message(n, len(it.data))) {
				t.Fatalf("message %d: bytes changed", n)
			}
		}
		var sizes []int // of the messages not yet popped, oldest first
		pushed, popped, queuedBytes := 0, 0, 0
		var out []*batch // popped, not yet settled
		var outFirst []int
		for i := 0; i+1 < len(ops); i += 2 {
			arg := int(ops[i+1])
			switch ops[i] % 3 {
			case 0: // push a message of 4 to 514 bytes (a message always fits a batch)
				size := 4 + arg*2
				want := len(sizes) < maxItems && queuedBytes+size <= maxBytes
				if q.fits(size) != want {
					t.Fatalf("fits(%d) = %v with %d messages of %d bytes", size, !want, len(sizes), queuedBytes)
				}
				if !want {
					continue
				}
				buf := message(pushed, size)
				q.push(item{data: buf})
				clear(buf) // the queue keeps a copy
				sizes = append(sizes, size)
				pushed++
				queuedBytes += size
			case 1: // take a batch, asking for the open one when arg is odd
				bt := q.pop(arg%2 == 1)
				if bt == nil {
					if arg%2 == 1 && len(sizes) > 0 {
						t.Fatalf("pop(true) = nil with %d messages queued", len(sizes))
					}
					continue
				}
				n := len(bt.items)
				if n == 0 || n > batchSize || bt.size > batchBytes {
					t.Fatalf("batch of %d messages, %d bytes (limits %d, %d)", n, bt.size, batchSize, batchBytes)
				}
				size := n - 1
				for k, it := range bt.items {
					if len(it.data) != sizes[k] {
						t.Fatalf("message %d: %d bytes, want %d", popped+k, len(it.data), sizes[k])
					}
					check(it, popped+k)
					size += sizes[k]
				}
				if size != bt.size {
					t.Fatalf("batch size %d, want %d", bt.size, size)
				}
				if arg%2 == 0 && n < batchSize && (n == len(sizes) || size+1+sizes[n] <= batchBytes) {
					t.Fatalf("pop(false) took a batch of %d messages, %d bytes, that was not full", n, size)
				}
				out = append(out, bt)
				outFirst = append(outFirst, popped)
				popped += n
				for _, s := range sizes[:n] {
					queuedBytes -= s
				}
				sizes = sizes[n:]
			case 2: // settle one of the batches taken, not always the oldest
				if len(out) == 0 {
					continue
				}
				k := arg % len(out)
				bt := out[k]
				for j, it := range bt.items {
					check(it, outFirst[k]+j)
				}
				clear(bt.items)
				q.recycle(bt)
				out = append(out[:k], out[k+1:]...)
				outFirst = append(outFirst[:k], outFirst[k+1:]...)
			}
			if q.items != len(sizes) || q.bytes != queuedBytes {
				t.Fatalf("queue counts %d messages, %d bytes; want %d, %d", q.items, q.bytes, len(sizes), queuedBytes)
			}
		}
		for k, bt := range out {
			for j, it := range bt.items {
				check(it, outFirst[k]+j)
			}
		}
	})
}
