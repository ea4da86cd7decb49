package queue_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/cdpkit/analytics-go/internal/queue"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestBoundsAndFIFO(t *testing.T) {
	q := queue.New[int](3, 100, 10, 1000)
	for i := range 3 {
		if err := q.TryPush(i, 10); err != nil {
			t.Fatalf("TryPush %d: %v", i, err)
		}
	}
	if err := q.TryPush(3, 1); !errors.Is(err, queue.ErrFull) {
		t.Fatalf("TryPush over the item cap: %v, want ErrFull", err)
	}
	got, size := q.Cut(nil, 2)
	if fmt.Sprint(got) != "[0 1]" || size != 21 {
		t.Fatalf("Cut(2) = %v, %d; want [0 1], 21 (two items and a separator)", got, size)
	}
	if err := q.TryPush(3, 91); !errors.Is(err, queue.ErrFull) {
		t.Fatalf("TryPush over the byte cap: %v, want ErrFull", err)
	}
	if err := q.TryPush(3, 90); err != nil {
		t.Fatalf("TryPush up to the byte cap: %v", err)
	}
	if n, b := q.Len(); n != 2 || b != 100 {
		t.Fatalf("Len = %d, %d; want 2, 100", n, b)
	}
	got, _ = q.Cut(nil, 10)
	if fmt.Sprint(got) != "[2 3]" {
		t.Fatalf("Cut = %v", got)
	}
	if got, size := q.Cut(nil, 10); len(got) != 0 || size != 0 {
		t.Fatalf("Cut of an empty queue = %v, %d", got, size)
	}
}

func TestCutByBytes(t *testing.T) {
	// Batches of at most 25 bytes, separators included.
	q := queue.New[int](100, 1000, 100, 25)
	for i, size := range []int{10, 10, 10, 30, 5} {
		if err := q.TryPush(i, size); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"[0 1]", "[2]", "[3]", "[4]"} {
		got, size := q.Cut(nil, 100)
		if fmt.Sprint(got) != want {
			t.Fatalf("Cut = %v (%d bytes), want %s", got, size, want)
		}
		// An item larger than a batch still goes, alone.
		if size > 25 && len(got) != 1 {
			t.Fatalf("a batch of %d bytes with %d items", size, len(got))
		}
	}
}

func TestReadyAndFull(t *testing.T) {
	q := queue.New[int](100, 1000, 3, 1000)
	_ = q.TryPush(1, 1)
	_ = q.TryPush(2, 1)
	select {
	case <-q.Ready():
		t.Fatal("Ready before a full batch")
	default:
	}
	if q.Full() {
		t.Fatal("Full with 2 of 3")
	}
	_ = q.TryPush(3, 1)
	select {
	case <-q.Ready():
	default:
		t.Fatal("no Ready signal for a full batch")
	}
	if !q.Full() {
		t.Fatal("not Full with 3 of 3")
	}
	// By bytes: 2 items of 499 and a separator reach 999.
	qb := queue.New[int](100, 10_000, 100, 999)
	_ = qb.TryPush(1, 499)
	if qb.Full() {
		t.Fatal("Full with 499 of 999 bytes")
	}
	_ = qb.TryPush(2, 499)
	if !qb.Full() {
		t.Fatal("not Full with 999 of 999 bytes")
	}
}

func TestClose(t *testing.T) {
	q := queue.New[int](10, 100, 10, 100)
	_ = q.TryPush(1, 1)
	q.Close()
	q.Close() // twice is harmless
	if !q.Closed() {
		t.Fatal("not Closed")
	}
	if err := q.TryPush(2, 1); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("TryPush after Close: %v", err)
	}
	if err := q.Push(context.Background(), 2, 1); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Push after Close: %v", err)
	}
	if got, _ := q.Cut(nil, 10); fmt.Sprint(got) != "[1]" {
		t.Fatalf("what was queued before Close is kept: %v", got)
	}
}

// TestPushWaits: a blocked Push waits for room, for its context, or for
// Close (with synctest, "waits" is checked, not guessed).
func TestPushWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := queue.New[int](1, 100, 10, 100)
		_ = q.TryPush(0, 1)

		room := make(chan error, 1)
		go func() { room <- q.Push(context.Background(), 1, 1) }()
		ctx, cancel := context.WithCancel(context.Background())
		canceled := make(chan error, 1)
		go func() { canceled <- q.Push(ctx, 2, 1) }()
		closed := make(chan error, 1)
		go func() { closed <- q.Push(context.Background(), 3, 1) }()
		synctest.Wait()
		if len(room)+len(canceled)+len(closed) != 0 {
			t.Fatal("a Push returned while the queue was full")
		}

		cancel()
		synctest.Wait()
		if err := <-canceled; !errors.Is(err, context.Canceled) {
			t.Fatalf("Push with a canceled context: %v", err)
		}

		// Room for one: exactly one of the two waiting pushes gets in.
		if got, _ := q.Cut(nil, 1); fmt.Sprint(got) != "[0]" {
			t.Fatalf("Cut = %v", got)
		}
		synctest.Wait()
		if n, _ := q.Len(); n != 1 || len(room)+len(closed) != 1 {
			t.Fatalf("after one Cut: %d queued, %d pushes returned; want 1 and 1", n, len(room)+len(closed))
		}
		q.Close()
		var errs []error
		for range 2 {
			select {
			case err := <-room:
				errs = append(errs, err)
			case err := <-closed:
				errs = append(errs, err)
			}
		}
		if errs[0] != nil {
			errs[0], errs[1] = errs[1], errs[0]
		}
		if !(errs[0] == nil && errors.Is(errs[1], queue.ErrClosed)) {
			t.Fatalf("results %v; want one nil and one ErrClosed", errs)
		}
	})
}

// TestProducersConcurrentSafe: many producers, blocking and not, and one
// consumer: every accepted item comes out exactly once, in each
// producer's order, and the bounds hold throughout.
func TestProducersConcurrentSafe(t *testing.T) {
	const producers, each, maxItems = 8, 2000, 50
	q := queue.New[[2]int](maxItems, 1<<20, 16, 1<<20)
	var wg sync.WaitGroup
	accepted := make([]int, producers)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				var err error
				if p%2 == 0 {
					err = q.Push(context.Background(), [2]int{p, i}, 1)
				} else {
					err = q.TryPush([2]int{p, i}, 1)
				}
				switch {
				case err == nil:
					accepted[p]++
				case errors.Is(err, queue.ErrFull) && p%2 == 1:
				default:
					t.Errorf("producer %d: %v", p, err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	last := make([]int, producers)
	for i := range last {
		last[i] = -1
	}
	got := make([]int, producers)
	for finished := false; ; {
		select {
		case <-done:
			finished = true
		case <-q.Ready():
		default:
			runtime.Gosched()
		}
		if n, _ := q.Len(); n > maxItems {
			t.Fatalf("%d items queued, cap %d", n, maxItems)
		}
		items, _ := q.Cut(nil, 16)
		for _, it := range items {
			p, i := it[0], it[1]
			if i <= last[p] {
				t.Fatalf("producer %d: item %d after %d", p, i, last[p])
			}
			last[p] = i
			got[p]++
		}
		if finished && len(items) == 0 {
			if n, _ := q.Len(); n == 0 {
				break
			}
		}
	}
	for p := range producers {
		if got[p] != accepted[p] {
			t.Errorf("producer %d: %d accepted, %d came out", p, accepted[p], got[p])
		}
		if p%2 == 0 && got[p] != each {
			t.Errorf("blocking producer %d: %d of %d", p, got[p], each)
		}
	}
}
