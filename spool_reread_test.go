package analytics_test

import (
	"errors"
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
	synctest.Test(t, func(t *testing.T) {
		fsys := faultfs.New(1)
		tr := analyticstest.NewTransport(t, analyticstest.WithAPIKey(spoolKey), analyticstest.WithViolationsAllowed())
		var res results
		c := newParkClient(t, tr, analytics.WithSpoolFS(fsys.Mount()), analytics.WithMaxAttempts(1), analytics.WithCallback(res.add))
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
		if got := arrivedIDs(tr); got["a"] != 1 {
			t.Errorf("a arrived %d times, want once", got["a"])
		}
		if n := fsys.Used("/spool", "*.seg"); n != 0 {
			t.Errorf("%d bytes of segments left once the message was delivered", n)
		}
	})
}
