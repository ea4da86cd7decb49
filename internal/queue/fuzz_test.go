package queue_test

import (
	"testing"

	"github.com/cdpkit/analytics-go/internal/queue"
)

// FuzzQueue runs a sequence of operations, read from the input, against
// the queue and against a plain slice, and checks that they agree: what is
// accepted, what Pop and Peek return, and Len.
func FuzzQueue(f *testing.F) {
	f.Add(byte(4), byte(100), []byte{0, 10, 0, 20, 1, 5, 0, 90, 2, 0, 1, 1})
	f.Add(byte(1), byte(32), []byte{0, 32, 0, 1, 1, 0, 0, 0, 0, 1})
	f.Add(byte(64), byte(255), []byte{0, 4, 0, 4, 0, 4, 0, 4, 1, 9, 1, 9, 1, 9})
	f.Fuzz(func(t *testing.T, maxItems, maxBytes byte, ops []byte) {
		q := queue.New[int](int(maxItems), int(maxBytes))
		type entry struct{ v, size int }
		var model []entry
		bytes, next := 0, 0
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i]%3, int(ops[i+1])
			switch op {
			case 0:
				want := len(model) < int(maxItems) && bytes+arg <= int(maxBytes)
				if got := q.Fits(arg); got != want {
					t.Fatalf("Fits(%d) = %v, want %v", arg, got, want)
				}
				if got := q.Push(next, arg); got != want {
					t.Fatalf("Push(%d, %d) = %v, want %v", next, arg, got, want)
				}
				if want {
					model = append(model, entry{next, arg})
					bytes += arg
				}
				next++
			case 1:
				v, size, ok := q.Pop()
				if ok != (len(model) > 0) {
					t.Fatalf("Pop ok = %v with %d items", ok, len(model))
				}
				if ok {
					if v != model[0].v || size != model[0].size {
						t.Fatalf("Pop = %d, %d; want %v", v, size, model[0])
					}
					bytes -= size
					model = model[1:]
				}
			case 2:
				size, ok := q.Peek()
				if ok != (len(model) > 0) || ok && size != model[0].size {
					t.Fatalf("Peek = %d, %v; model %v", size, ok, model)
				}
			}
			if n, b := q.Len(); n != len(model) || b != bytes {
				t.Fatalf("Len = %d, %d; want %d, %d", n, b, len(model), bytes)
			}
		}
	})
}
