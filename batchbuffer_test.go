package analytics

import (
	"bytes"
	"strconv"
	"testing"
)

// TestBatchKeepsItsMessagesBytes: a batch copies each message into its own
// buffer (the caller may reuse its bytes at once); when the buffer grows,
// the messages already in it move along unchanged; the buffer never grows
// past the most a batch holds; and a recycled batch fills its buffer again
// without an allocation.
func TestBatchKeepsItsMessagesBytes(t *testing.T) {
	const maxBytes = 64 << 10
	q := &batchQueue{maxItems: 1000, maxBytes: 1 << 20, batchSize: 1000, batchBytes: maxBytes, keepSpare: 2}
	msg := func(n int) []byte { return bytes.Repeat([]byte{byte(n)}, 1000) }
	for n := range 60 {
		p := msg(n)
		q.push(item{data: p})
		p[0] = 'x' // the queue holds a copy
	}
	bt := q.pop(true)
	if len(bt.items) != 60 {
		t.Fatalf("popped %d messages, want 60", len(bt.items))
	}
	for n, it := range bt.items {
		if !bytes.Equal(it.data, msg(n)) || cap(it.data) != len(it.data) {
			t.Fatalf("message %d changed, or can be appended to in place (cap %d)", n, cap(it.data))
		}
	}
	if cap(bt.buf) > maxBytes {
		t.Errorf("buffer of %d bytes, over the batch's %d", cap(bt.buf), maxBytes)
	}
	if &bt.items[0].data[0] != &bt.buf[0] || &bt.items[59].data[999] != &bt.buf[len(bt.buf)-1] {
		t.Error("after growing, the messages are not in the batch's buffer")
	}

	// Settled and recycled, the batch is reused with its buffer.
	clear(bt.items)
	q.recycle(bt)
	fill := func() {
		for n := range 60 {
			q.push(item{data: msg(n)[:100]})
		}
		b := q.pop(true)
		clear(b.items)
		q.recycle(b)
	}
	fill()
	p := make([]byte, 100)
	allocs := testing.AllocsPerRun(20, func() {
		for range 60 {
			q.push(item{data: p})
		}
		b := q.pop(true)
		clear(b.items)
		q.recycle(b)
	})
	if allocs != 0 {
		t.Errorf("refilling a recycled batch allocates %v times, want 0", allocs)
	}
}

// TestBatchQueueTrimKeepsSpares: settled batches are kept for reuse until a
// trim, which keeps keepSpare of them, and an idle trim keeps one without
// a buffer over maxIdleBuf.
func TestBatchQueueTrimKeepsSpares(t *testing.T) {
	q := &batchQueue{maxItems: 100, maxBytes: 1 << 20, batchSize: 1, batchBytes: 200 << 10, keepSpare: 2}
	big := make([]byte, 100<<10)
	for range 5 {
		q.push(item{data: big}) // batches of one message
	}
	var popped []*batch
	for bt := q.pop(true); bt != nil; bt = q.pop(true) {
		popped = append(popped, bt)
	}
	for _, bt := range popped {
		clear(bt.items)
		q.recycle(bt)
	}
	if len(q.spare) != 5 {
		t.Fatalf("%d of 5 settled batches kept before a trim", len(q.spare))
	}
	q.trim(false)
	if len(q.spare) != 2 || cap(q.spare[0].buf) < len(big) {
		t.Fatalf("a trim on the tick kept %d batches (want 2), with their buffers", len(q.spare))
	}
	q.trim(true)
	if len(q.spare) != 1 || cap(q.spare[0].buf) > maxIdleBuf {
		t.Fatalf("an idle trim kept %d batches (want 1) and a buffer of %d bytes (at most %d)", len(q.spare), cap(q.spare[0].buf), maxIdleBuf)
	}
}

// BenchmarkQueuePushPop is the cost of the queue's mechanism alone, per
// message: copying a message into the queue (push), cutting full batches
// (pop) and taking them back once settled (recycle), with up to 4 batches in
// flight and a trim every 10,000 messages, as the flush tick would.
func BenchmarkQueuePushPop(b *testing.B) {
	for _, size := range []int{300, 3000} {
		b.Run(strconv.Itoa(size)+"B", func(b *testing.B) {
			cfg := defaultConfig()
			q := newBatchQueue(&cfg)
			msg := make([]byte, size)
			var inflight []*batch
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for i := range b.N {
				if !q.fits(size) {
					b.Fatal("queue full")
				}
				q.push(item{data: msg})
				for q.ready() {
					inflight = append(inflight, q.pop(false))
					if len(inflight) > 4 {
						bt := inflight[0]
						inflight = inflight[1:]
						clear(bt.items)
						q.recycle(bt)
					}
				}
				if i%10_000 == 0 {
					q.trim(false)
				}
			}
		})
	}
}
