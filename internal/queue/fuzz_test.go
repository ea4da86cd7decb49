package queue_test

import (
	"errors"
	"testing"

	"github.com/cdpkit/analytics-go/internal/queue"
)

// FuzzQueue runs a sequence of operations, read from the input, against
// the queue and against a plain slice, and checks that they agree: what
// is accepted, what each Cut returns and its size, Len, Full, and that a
// Ready signal is pending whenever a push made a batch full.
func FuzzQueue(f *testing.F) {
	f.Add(byte(4), byte(100), byte(3), byte(50), []byte{0, 10, 0, 20, 1, 5, 0, 90, 2, 0, 1, 1})
	f.Add(byte(1), byte(32), byte(1), byte(1), []byte{0, 32, 0, 1, 1, 0, 3, 0, 0, 1})
	f.Add(byte(64), byte(255), byte(7), byte(9), []byte{0, 4, 0, 4, 0, 4, 0, 4, 1, 9, 1, 9, 1, 9})
	f.Fuzz(func(t *testing.T, maxItems, maxBytes, batchItems, batchBytes byte, ops []byte) {
		if maxItems == 0 || batchItems == 0 || batchBytes == 0 {
			return
		}
		q := queue.New[int](int(maxItems), int(maxBytes), int(batchItems), int(batchBytes))
		var model []int // sizes, FIFO
		sizes := map[int]int{}
		next := 0
		bytes := 0
		closed := false
		full := func() bool {
			return len(model) >= int(batchItems) || len(model) > 0 && bytes+len(model)-1 >= int(batchBytes)
		}
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i]%4, int(ops[i+1])
			switch op {
			case 0: // TryPush an item of arg bytes
				err := q.TryPush(next, arg)
				var want error
				switch {
				case closed:
					want = queue.ErrClosed
				case len(model) >= int(maxItems) || bytes+arg > int(maxBytes):
					want = queue.ErrFull
				}
				if !errors.Is(err, want) || (want == nil) != (err == nil) {
					t.Fatalf("op %d: TryPush(%d bytes) = %v, want %v", i/2, arg, err, want)
				}
				if err == nil {
					model = append(model, next)
					sizes[next] = arg
					bytes += arg
					if full() {
						select {
						case <-q.Ready():
						default:
							t.Fatalf("op %d: a full batch and no Ready signal", i/2)
						}
					}
				}
				next++
			case 1: // Cut at most arg items (0 means 1)
				limit := max(arg, 1)
				got, size := q.Cut(nil, limit)
				// The model: take while under the limits; always one.
				var want []int
				wantSize := 0
				for len(model) > 0 && len(want) < limit && len(want) < int(batchItems) {
					s := wantSize + sizes[model[0]]
					if len(want) > 0 {
						s++
					}
					if len(want) > 0 && s > int(batchBytes) {
						break
					}
					want = append(want, model[0])
					wantSize = s
					bytes -= sizes[model[0]]
					model = model[1:]
				}
				if len(got) != len(want) || size != wantSize {
					t.Fatalf("op %d: Cut(%d) = %v (%d bytes), want %v (%d bytes)", i/2, limit, got, size, want, wantSize)
				}
				for k := range got {
					if got[k] != want[k] {
						t.Fatalf("op %d: Cut(%d) = %v, want %v", i/2, limit, got, want)
					}
				}
				if size > int(batchBytes) && len(got) != 1 {
					t.Fatalf("op %d: a batch of %d bytes over the limit %d holds %d items", i/2, size, batchBytes, len(got))
				}
			case 2:
				q.Close()
				closed = true
			case 3: // drain a stale signal: Ready makes no promise of one per batch
				select {
				case <-q.Ready():
				default:
				}
			}
			n, b := q.Len()
			if n != len(model) || b != bytes {
				t.Fatalf("op %d: Len = %d, %d; model %d, %d", i/2, n, b, len(model), bytes)
			}
			if n > int(maxItems) || b > int(maxBytes) {
				t.Fatalf("op %d: %d items, %d bytes over the caps %d, %d", i/2, n, b, maxItems, maxBytes)
			}
			if q.Full() != full() {
				t.Fatalf("op %d: Full = %v, model %v", i/2, q.Full(), full())
			}
			if q.Closed() != closed {
				t.Fatalf("op %d: Closed = %v", i/2, q.Closed())
			}
		}
	})
}
