package analytics

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

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

// TestNewBatchHasRoomForAFullOne: once a batch has filled up, the next
// batch is given room for as many messages and bytes at once: it fills up
// in the buffer and entries it opened with, without growing (an
// allocation and a copy per doubling, and a buffer up to twice its
// contents). The commas between the messages are in the buffer: it is the
// batch as a request lists it.
func TestNewBatchHasRoomForAFullOne(t *testing.T) {
	t.Parallel()
	q := &batchQueue{maxItems: 1000, maxBytes: 1 << 20, batchSize: 100, batchBytes: 200 << 10, keepSpare: 2}
	msg := bytes.Repeat([]byte("m"), 300)
	for range 100 {
		q.push(item{data: msg})
	}
	first := q.pop(false)
	require.NotNil(t, first, "a full batch")
	require.Equal(t, first.size, len(first.buf), "the buffer holds the messages and the commas")
	require.Equal(t, byte(','), first.buf[300], "a comma between two messages")

	q.push(item{data: msg})
	bt := q.open
	buf, items := &bt.buf[:1][0], &bt.items[:1][0]
	for range 99 {
		q.push(item{data: msg})
	}
	require.Same(t, bt, q.pop(false), "the second batch filled up")
	assert.Same(t, buf, &bt.buf[0], "the second batch's buffer grew")
	assert.Same(t, items, &bt.items[0], "the second batch's entries grew")
	assert.LessOrEqual(t, cap(bt.buf), len(bt.buf)+len(bt.buf)/8, "the room given, over the full batch's size and an eighth")
}

// TestQueueAllocatesAheadOfPush: what push would allocate (a new batch
// when no spare is left, a buffer or entries the open batch grows into)
// is reported by needs, made by the caller without the batcher's lock,
// and taken by provide, after which push neither grows the open batch nor
// makes a new one.
func TestQueueAllocatesAheadOfPush(t *testing.T) {
	t.Parallel()
	q := &batchQueue{maxItems: 10_000, maxBytes: 1 << 30, batchSize: 250, batchBytes: 100 << 10, keepSpare: 2}
	msg := bytes.Repeat([]byte("m"), 330)
	// first returns the first byte of b's buffer and its first entry, nil
	// for what has no room yet.
	first := func(b *batch) (*byte, *item) {
		var p *byte
		var e *item
		if cap(b.buf) > 0 {
			p = &b.buf[:1][0]
		}
		if cap(b.items) > 0 {
			e = &b.items[:1][0]
		}
		return p, e
	}
	for i := range 1000 { // the first batch grows, the next ones are made at their size
		if grow, items, size, ok := q.needs(len(msg)); ok {
			q.provide(grow, makeBatch(items, size))
		}
		open, spares := q.open, len(q.spare)
		var buf *byte
		var ent *item
		if open != nil {
			buf, ent = first(open)
		}
		q.push(item{data: msg})
		into := q.open
		if into == nil {
			into = q.full[len(q.full)-1]
		}
		if into == open {
			b, e := first(into)
			require.True(t, b == buf && e == ent, "push %d grew the open batch", i)
		} else {
			require.Equal(t, spares-1, len(q.spare), "push %d made a batch", i)
		}
	}
	for q.ready() {
		bt := q.pop(false)
		clear(bt.items)
		q.recycle(bt)
	}
	_, _, _, ok := q.needs(len(msg))
	assert.False(t, ok, "a spare batch is reused without an allocation")
}

// TestBatchMessagesOfAnyRange: the bytes a request of items[lo:hi] sends
// (the whole batch, or a half of a half of a refused one) are the messages
// lo..hi-1 with a comma between two and none at either end, read from the
// batch's buffer, also after it grew while filling; and no append to them
// can write into the buffer.
func TestBatchMessagesOfAnyRange(t *testing.T) {
	t.Parallel()
	q := &batchQueue{maxItems: 1000, maxBytes: 1 << 20, batchSize: 40, batchBytes: 1 << 20, keepSpare: 2}
	var msgs [][]byte
	for n := range 40 {
		m := bytes.Repeat([]byte{'a' + byte(n%26)}, 1+n*n*7) // sizes from 1 byte to 10 KB: the buffer grows
		msgs = append(msgs, m)
		q.push(item{data: m})
	}
	bt := q.pop(false)
	require.Len(t, bt.items, 40)
	for lo := range 40 {
		for hi := lo + 1; hi <= 40; hi++ {
			got := bt.messages(lo, hi)
			if want := bytes.Join(msgs[lo:hi], []byte(",")); !bytes.Equal(got, want) {
				t.Fatalf("messages(%d, %d): %d bytes, want %d", lo, hi, len(got), len(want))
			}
			require.Equal(t, len(got), cap(got), "messages(%d, %d) can be appended to in place", lo, hi)
		}
	}
}

// TestSentBatchKeepsItsBuffer: a request body lends the batch's buffer
// (no copy), and once the request is done and its body closed (every
// well-behaved API reads the body before it answers), the settled batch is
// reused with that buffer: the next batch fills the same memory, without
// an allocation. (The buffer is given up only when net/http may still read
// it: TestEarlyAnswerLeavesTheBodyIntact.)
func TestSentBatchKeepsItsBuffer(t *testing.T) {
	t.Parallel()
	c, err := New("key", WithEndpoint("http://127.0.0.1:1"),
		WithHTTPClient(&http.Client{Transport: acceptTransport{}}), WithBatchSize(10), WithMaxInFlight(1))
	require.NoError(t, err)
	defer c.Close()
	spare := func() *byte {
		c.b.mu.Lock()
		defer c.b.mu.Unlock()
		require.Len(t, c.b.q.spare, 1, "spare batches of an idle client")
		require.NotZero(t, cap(c.b.q.spare[0].buf), "the spare batch's buffer")
		return &c.b.q.spare[0].buf[:1][0]
	}
	var first *byte
	for round := range 3 {
		for i := range 10 {
			require.NoError(t, c.Enqueue(Track{UserID: "u", Event: "E", Properties: Properties{"round": round, "i": i}}))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		require.NoError(t, c.Flush(ctx))
		cancel()
		if round == 0 {
			first = spare()
		} else {
			assert.Same(t, first, spare(), "round %d: the batch sent was not reused with its buffer", round)
		}
	}
}
