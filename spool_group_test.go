package analytics_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/cdpkit/analytics-go/internal/spool/faultfs"
)

// Group commit: Enqueue calls made while another's record is being
// written share the next write(2) (and fsync), and each returns once its
// own record is written.

// groupCommitClient returns a client with a spool on fsys that fsyncs
// every write (so that Stats.SpoolSyncs counts the writes), sending to a
// fake API.
func groupCommitClient(t *testing.T, fsys *faultfs.FS) (*analytics.Client, *analyticstest.Transport) {
	t.Helper()
	fake := analyticstest.NewTransport(t, analyticstest.WithAPIKey(spoolKey))
	c, err := analytics.New(spoolKey, analytics.WithHTTPClient(fake.Client()), analytics.WithEndpoint(fake.URL),
		analytics.WithLogger(quietLogger()), analytics.WithSpool("/spool"), analytics.WithSpoolFS(fsys.Mount()),
		analytics.WithSpoolSync(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// The feeder idle, so that a held write holds no one but the Enqueue
	// calls (a goroutine waiting for the log's lock would keep
	// synctest.Wait from returning).
	synctest.Wait()
	return c, fake
}

// TestSpoolGroupCommit: while the first Enqueue's write is held, 7 more
// Enqueue calls wait; they are then written together, with one write(2)
// and one fsync, and every message is delivered once.
func TestSpoolGroupCommit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		fsys := faultfs.New(1)
		gate := make(chan struct{})
		var mu sync.Mutex
		writes, held := 0, false
		fsys.SetFault(func(op faultfs.Op, path string) error {
			if op != faultfs.OpWrite || !strings.HasSuffix(path, ".seg") {
				return nil
			}
			mu.Lock()
			writes++
			hold := !held
			held = true
			mu.Unlock()
			if hold {
				<-gate // the first write: the new segment's header
			}
			return nil
		})
		c, fake := groupCommitClient(t, fsys)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		enqueue := func(i int) {
			defer wg.Done()
			errs[i] = c.Enqueue(spoolTrack(fmt.Sprintf("g-%d", i), i))
		}
		wg.Add(1)
		go enqueue(0)
		synctest.Wait() // the first is writing, held
		for i := 1; i < 8; i++ {
			wg.Add(1)
			go enqueue(i)
		}
		synctest.Wait() // the others wait for it, in one group
		close(gate)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Enqueue %d: %v", i, err)
			}
		}
		st := c.Stats()
		mu.Lock()
		// The segment's header, the first message, the seven others.
		if writes != 3 || st.SpoolSyncs != 2 {
			t.Errorf("%d writes to the segment and %d fsyncs for 8 messages, want 3 (its header, then 1 and 7 messages) and 2", writes, st.SpoolSyncs)
		}
		mu.Unlock()
		if err := c.Flush(context.Background()); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		got := acceptedIDs(fake)
		for i := range 8 {
			if id := fmt.Sprintf("g-%d", i); got[id] != 1 {
				t.Errorf("%s arrived %d times, want once", id, got[id])
			}
		}
		spoolStatsAddUp(t, c.Stats())
	})
}

// TestSpoolGroupFailsTogether: a group whose write the disk refuses fails
// every one of its members with the disk's error, counted once each, and
// the next group is written once the disk takes writes again.
func TestSpoolGroupFailsTogether(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		fsys := faultfs.New(2)
		gate := make(chan struct{})
		var mu sync.Mutex
		calls := 0
		fsys.SetFault(func(op faultfs.Op, path string) error {
			if op != faultfs.OpWrite || !strings.HasSuffix(path, ".seg") {
				return nil
			}
			mu.Lock()
			calls++
			n := calls
			mu.Unlock()
			switch n {
			case 2:
				<-gate // the first message's write, held while the others gather
			case 3:
				return faultfs.ErrNoSpace // the group of the others
			}
			return nil
		})
		c, _ := groupCommitClient(t, fsys)
		var wg sync.WaitGroup
		errs := make([]error, 6)
		enqueue := func(i int) {
			defer wg.Done()
			errs[i] = c.Enqueue(spoolTrack(fmt.Sprintf("f-%d", i), i))
		}
		wg.Add(1)
		go enqueue(0)
		synctest.Wait()
		for i := 1; i < 6; i++ {
			wg.Add(1)
			go enqueue(i)
		}
		synctest.Wait()
		close(gate)
		wg.Wait()
		if errs[0] != nil {
			t.Errorf("Enqueue of the first message: %v", errs[0])
		}
		for i := 1; i < 6; i++ {
			if !errors.Is(errs[i], syscall.ENOSPC) {
				t.Errorf("Enqueue %d in the refused group: %v, want ENOSPC", i, errs[i])
			}
		}
		if st := c.Stats(); st.SpoolWriteErrors != 5 || st.Enqueued != 1 {
			t.Errorf("SpoolWriteErrors %d, Enqueued %d; want 5 and 1", st.SpoolWriteErrors, st.Enqueued)
		}
		if err := c.Enqueue(spoolTrack("after", 9)); err != nil {
			t.Errorf("Enqueue once the disk takes writes: %v", err)
		}
		spoolStatsAddUp(t, c.Stats())
	})
}
