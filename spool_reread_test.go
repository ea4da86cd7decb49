package analytics_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/cdpkit/analytics-go/internal/spool/faultfs"
)

// TestSpoolRereadRetriesIOError: a message given up after its retries is
// read again from the spool to be sent again; an I/O error on that read
// that passes is tried again, as when the feeder reads the log, instead
// of reporting the message lost for the run and leaving it, and the
// segment it pins, for the next client. Before the fix one failed read
// made it a FailedSpool loss (ErrSpoolLost in the callback) while it was
// intact on disk, and it was not sent until a restart.
func TestSpoolRereadRetriesIOError(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		fsys := faultfs.New(1)
		tr := analyticstest.NewTransport(t, analyticstest.WithAPIKey(spoolKey), analyticstest.WithViolationsAllowed())
		var res results
		c := newParkClient(t, tr, analytics.WithSpoolFS(fsys.Mount()), analytics.WithRetry(analytics.RetryPolicy{MaxAttempts: 1}), analytics.WithCallback(res.add))
		hold := make(chan struct{})
		tr.SetDefault(analyticstest.Response{Status: 503, Hold: hold})
		if err := c.Enqueue(spoolTrack("a", 0)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // a flush tick: the batch is sent, and held
		synctest.Wait()
		// The next read of a segment fails once: the read of the message
		// to send it again, once the API has answered 503.
		var failed atomic.Int32
		fsys.SetFault(func(op faultfs.Op, path string) error {
			if op == faultfs.OpRead && strings.HasSuffix(path, ".seg") && failed.Add(1) == 1 {
				return faultfs.ErrIO
			}
			return nil
		})
		tr.SetDefault(analyticstest.Response{})
		close(hold)
		synctest.Wait()
		if err := flushWithin(t, c, time.Second); err != nil {
			t.Errorf("Flush once the API is back: %v", err)
		}
		if failed.Load() == 0 {
			t.Fatal("no read of the spool after the 503: the test injected nothing")
		}
		st := c.Stats()
		spoolStatsAddUp(t, st)
		if st.FailedSpool != 0 || st.Delivered != 1 || st.SpoolRequeued != 1 {
			t.Errorf("FailedSpool %d Delivered %d SpoolRequeued %d, want 0, 1 and 1: a read error that passes loses nothing",
				st.FailedSpool, st.Delivered, st.SpoolRequeued)
		}
		for _, r := range res.get() {
			if errors.Is(r.Err, analytics.ErrSpoolLost) {
				t.Errorf("callback: %s lost: %v", r.MessageID, r.Err)
			}
		}
		if got := acceptedIDs(tr); got["a"] != 1 {
			t.Errorf("a arrived %d times, want once", got["a"])
		}
		if n := fsys.Used("/spool", "*.seg"); n != 0 {
			t.Errorf("%d bytes of segments left once the message was delivered", n)
		}
	})
}

// TestSpoolLostAbandonedStaysLost: messages the spool has reported lost
// (here, a region the disk fails to read) that Shutdown's ended context
// keeps from the senders are still reported as lost by the spool, with
// its error, not as abandoned by Shutdown: they are not in flight, and
// "abandoned" would say they are kept for the next client when the
// damaged ones are gone. Before the fix they were counted in
// FailedShutdown, with the error of an abandoned batch.
func TestSpoolLostAbandonedStaysLost(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		fsys := faultfs.New(1)
		// A first client leaves 10 messages of 30 KB in the spool (the
		// API refuses its key), more than a Reader's first chunk.
		tr := analyticstest.NewTransport(t, analyticstest.WithAPIKey("another-key"), analyticstest.WithViolationsAllowed())
		first := newParkClient(t, tr, analytics.WithSpoolFS(fsys.Mount()))
		for i := range 10 {
			msg := analytics.Track{UserID: "u", Event: "Big", MessageID: fmt.Sprint("big-", i),
				Properties: analytics.Properties{"pad": strings.Repeat("x", 30_000)}}
			if err := first.Enqueue(msg); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = first.Shutdown(ctx)
		synctest.Wait()

		// The next client's sender hangs, deaf to its context; its feeder
		// reads the first chunk, and the disk fails every read after it.
		var reads atomic.Int32
		fsys.SetFault(func(op faultfs.Op, path string) error {
			if op == faultfs.OpRead && strings.HasSuffix(path, ".seg") && reads.Add(1) > 2 { // Open's, the first chunk
				return faultfs.ErrIO
			}
			return nil
		})
		deaf := &deafTransport{release: make(chan struct{})}
		released := false
		defer func() {
			if !released {
				close(deaf.release)
			}
		}()
		var res results
		c, err := analytics.New(spoolKey, analytics.WithHTTPClient(&http.Client{Transport: deaf}),
			analytics.WithLogger(quietLogger()), analytics.WithSpool("/spool"), analytics.WithSpoolFS(fsys.Mount()),
			analytics.WithBatchSize(2), analytics.WithMaxInFlight(1), analytics.WithFlushInterval(time.Hour),
			analytics.WithCallback(res.add))
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_ = c.Shutdown(ctx)
		}()
		synctest.Wait()
		st := c.Stats()
		// Two batches held (one by the sender, one waiting for it), and
		// queued only the lost ones, which hold no bytes.
		if st.InFlight != 4 || st.Queued != 6 || st.QueuedBytes != 0 {
			t.Fatalf("before Shutdown: %+v, want 4 in flight and the 6 messages the disk failed to read queued as lost", st)
		}
		ctx, cancel = context.WithCancel(context.Background())
		cancel()
		_ = c.Shutdown(ctx)
		st = c.Stats()
		spoolStatsAddUp(t, st)
		var unreadable int64
		for _, r := range res.get() {
			if errors.Is(r.Err, analytics.ErrSpoolLost) {
				unreadable++
			}
		}
		if st.FailedSpool != 6 || unreadable != 6 {
			t.Errorf("FailedSpool %d FailedShutdown %d, %d callbacks with ErrSpoolLost: the messages the disk failed to read are reported abandoned by Shutdown",
				st.FailedSpool, st.FailedShutdown, unreadable)
		}
		released = true
		close(deaf.release)
		synctest.Wait()
	})
}
