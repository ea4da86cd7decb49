package analytics

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBatchKeepsItsMessagesBytes: a batch copies each message into its own
// buffer (the caller may reuse its bytes at once); when the buffer grows,
// the messages already in it move along unchanged; the buffer never grows
// past the most a batch holds; and a recycled batch fills its buffer again
// without an allocation.
func TestBatchKeepsItsMessagesBytes(t *testing.T) {
	// Not parallel: AllocsPerRun counts every goroutine's allocations.
	const maxBytes = 64 << 10
	q := &batchQueue{maxItems: 1000, maxBytes: 1 << 20, batchSize: 1000, batchBytes: maxBytes, keepSpare: 2}
	msg := func(n int) []byte { return bytes.Repeat([]byte{byte(n)}, 1000) }
	for n := range 60 {
		p := msg(n)
		q.push(item{data: p})
		p[0] = 'x' // the queue holds a copy
	}
	bt := q.pop(true)
	require.Len(t, bt.items, 60, "messages popped")
	for n, it := range bt.items {
		require.Equal(t, msg(n), it.data, "message %d changed", n)
		require.Equal(t, len(it.data), cap(it.data), "message %d can be appended to in place", n)
	}
	assert.LessOrEqual(t, cap(bt.buf), maxBytes, "the buffer, over the batch's most")
	assert.Same(t, &bt.buf[0], &bt.items[0].data[0], "after growing, the first message is not in the batch's buffer")
	assert.Same(t, &bt.buf[len(bt.buf)-1], &bt.items[59].data[999], "after growing, the last message is not in the batch's buffer")

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
	assert.Zero(t, allocs, "allocations of refilling a recycled batch")
}

// TestBatchQueueTrimKeepsSpares: settled batches are kept for reuse until a
// trim, which keeps keepSpare of them, and an idle trim keeps one without
// a buffer over maxIdleBuf.
func TestBatchQueueTrimKeepsSpares(t *testing.T) {
	t.Parallel()
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
	require.Len(t, q.spare, 5, "settled batches kept before a trim")
	q.trim(false)
	require.Len(t, q.spare, 2, "batches a trim on the tick keeps")
	require.GreaterOrEqual(t, cap(q.spare[0].buf), len(big), "a trim on the tick keeps the batches' buffers")
	q.trim(true)
	require.Len(t, q.spare, 1, "batches an idle trim keeps")
	require.LessOrEqual(t, cap(q.spare[0].buf), maxIdleBuf, "the buffer an idle trim keeps")
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
