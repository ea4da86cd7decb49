package analytics_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

// The spool under the faults it exists for: an outage under a small cap,
// damage while running, a one-shot program's Close. (A full disk, which
// needs a small file system, is in spool_fulldisk_test.go; crashes in
// spool_crash_test.go; every fault at random in spool_model_test.go.)

// TestSpoolOutageUnderSmallCap: an outage under a 1 MiB cap does not fill
// the spool with copies of the messages it retries. Enqueue keeps taking
// messages while the live ones fit, and once the API is back every
// message is sent, without a restart, and Close reports nothing lost.
func TestSpoolOutageUnderSmallCap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(spoolKey))
	srv.SetDefault(analyticstest.Response{Status: 503})
	c := newSpoolClient(t, srv.URL, dir, analytics.WithSpoolMaxBytes(1<<20), analytics.WithFlushInterval(5*time.Millisecond),
		analytics.WithMaxAttempts(2), analytics.WithRetryWait(time.Millisecond, time.Millisecond))
	for i := range 300 {
		if err := c.Enqueue(spoolTrack(fmt.Sprintf("o-%04d", i), i)); err != nil {
			t.Fatalf("Enqueue %d: %v", i, err)
		}
	}
	// Every message is given up and queued again, over and over: 5,000
	// requeues of 300 messages, each about 400 bytes, are 2 MB of copies,
	// twice the cap, were they copies.
	waitFor(t, "5,000 requeues", func() bool { return c.Stats().SpoolRequeued >= 5_000 })
	st := c.Stats()
	if st.SpoolBytes > 300<<10 {
		t.Errorf("SpoolBytes %d after %d requeues of 300 messages: the spool holds copies", st.SpoolBytes, st.SpoolRequeued)
	}
	for i := range 300 {
		if err := c.Enqueue(spoolTrack(fmt.Sprintf("o-%04d", 300+i), 300+i)); err != nil {
			t.Fatalf("Enqueue during the outage, with 600 live messages under a 1 MiB cap: %v", err)
		}
	}
	srv.SetDefault(analyticstest.Response{})
	waitFor(t, "every message delivered", func() bool { return len(srv.Messages()) >= 600 })
	got := acceptedIDs(srv)
	for i := range 600 {
		if id := fmt.Sprintf("o-%04d", i); got[id] == 0 {
			t.Errorf("%s never arrived", id)
		}
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close once everything was delivered: %v", err)
	}
	st = c.Stats()
	spoolStatsAddUp(t, st)
	if segs, _ := segFiles(t, dir); len(segs) != 0 {
		t.Errorf("%d segment files left after every message was delivered", len(segs))
	}
}

// TestSpoolDamageWhileRunning: bytes overwritten in the active segment
// while messages wait in it on disk. The messages in the damaged region
// are reported lost (FailedSpool, ErrSpoolLost in the callback and in the
// Flush that waited for them), every other one is delivered, and every
// Flush returns instead of waiting for its context.
func TestSpoolDamageWhileRunning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hold := make(chan struct{})
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(spoolKey))
	srv.SetDefault(analyticstest.Response{Hold: hold})
	var res results
	c := newSpoolClient(t, srv.URL, dir, analytics.WithQueueCapacity(10), analytics.WithBatchSize(10),
		analytics.WithMaxInFlight(1), analytics.WithCallback(res.add))
	const n = 2000 // about 800 KB: far more than the feeder reads ahead
	for i := range n {
		if err := c.Enqueue(spoolTrack(fmt.Sprintf("d-%04d", i), i)); err != nil {
			t.Fatal(err)
		}
	}
	segs, _ := segFiles(t, dir)
	if len(segs) != 1 {
		t.Fatalf("%d segments, want the one active segment", len(segs))
	}
	rs := records(t, segs[0])
	at := rs[n*3/4].off + 20 // inside a record far behind the feeder
	f, err := os.OpenFile(segs[0], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("sixteen  bytes!!"), at); err != nil {
		t.Fatal(err)
	}
	f.Close()
	lostIDs := map[string]bool{}
	for _, r := range rs {
		if r.off < at+16 && r.end > at {
			lostIDs[r.id] = true
		}
	}

	close(hold)
	srv.SetDefault(analyticstest.Response{})
	err = flushWithin(t, c, 20*time.Second)
	var de *analytics.DeliveryError
	if !errors.As(err, &de) || !errors.Is(err, analytics.ErrSpoolLost) || de.Undelivered != int64(len(lostIDs)) {
		t.Fatalf("Flush after damage: %v, want a *DeliveryError for the %d messages in the damaged region, matching ErrSpoolLost", err, len(lostIDs))
	}
	got := acceptedIDs(srv)
	for _, r := range rs {
		if !lostIDs[r.id] && got[r.id] != 1 {
			t.Errorf("%s arrived %d times, want once", r.id, got[r.id])
		}
		if lostIDs[r.id] && got[r.id] != 0 {
			t.Errorf("%s, in the damaged region, arrived", r.id)
		}
	}
	st := c.Stats()
	spoolStatsAddUp(t, st)
	if st.FailedSpool != int64(len(lostIDs)) || st.SpoolDamaged != 1 {
		t.Errorf("FailedSpool %d SpoolDamaged %d, want %d and 1", st.FailedSpool, st.SpoolDamaged, len(lostIDs))
	}
	lost := 0
	for _, r := range res.get() {
		if errors.Is(r.Err, analytics.ErrSpoolLost) {
			lost++
		}
	}
	if lost != len(lostIDs) {
		t.Errorf("%d callbacks with ErrSpoolLost, want %d", lost, len(lostIDs))
	}
	// A later Flush, of a delivered message, returns at once.
	if err := c.Enqueue(spoolTrack("after", 0)); err != nil {
		t.Fatal(err)
	}
	if err := flushWithin(t, c, 20*time.Second); err != nil {
		t.Errorf("Flush of a message enqueued after the damage: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.damaged")); len(m) != 1 {
		t.Errorf("damaged files set aside: %v, want the one segment", m)
	}
}

// TestSpoolCloseDrainsDisk: a one-shot program that enqueues far more than
// its memory queue holds and then calls Close, with a healthy API and
// time to spare, delivers everything: Close sends what waits on disk too.
func TestSpoolCloseDrainsDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(spoolKey))
	c := newSpoolClient(t, srv.URL, dir, analytics.WithQueueCapacity(100))
	const n = 5000
	for i := range n {
		if err := c.Enqueue(spoolTrack(fmt.Sprintf("c-%04d", i), i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v, want every message delivered", err)
	}
	got := acceptedIDs(srv)
	for i := range n {
		if id := fmt.Sprintf("c-%04d", i); got[id] != 1 {
			t.Fatalf("%s arrived %d times, want once", id, got[id])
		}
	}
	st := c.Stats()
	spoolStatsAddUp(t, st)
	if st.Delivered != n || st.SpoolPending != 0 {
		t.Errorf("Delivered %d SpoolPending %d, want %d and 0", st.Delivered, st.SpoolPending, n)
	}
	if segs, _ := segFiles(t, dir); len(segs) != 0 {
		t.Errorf("%d segment files left after Close delivered everything", len(segs))
	}
}

// TestSpoolShutdownDeadlineKeepsTheRest: when Shutdown's context ends
// while messages wait on disk, they stay for the next client, and
// Shutdown reports them as kept.
func TestSpoolShutdownDeadlineKeepsTheRest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(spoolKey))
	srv.SetDefault(analyticstest.Response{Delay: 50 * time.Millisecond})
	c := newSpoolClient(t, srv.URL, dir, analytics.WithQueueCapacity(10), analytics.WithBatchSize(10), analytics.WithMaxInFlight(1))
	const n = 1000
	for i := range n {
		if err := c.Enqueue(spoolTrack(fmt.Sprintf("k-%04d", i), i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := c.Shutdown(ctx)
	cancel()
	var de *analytics.DeliveryError
	if !errors.As(err, &de) || de.Undelivered == 0 {
		t.Fatalf("Shutdown with a deadline too short for %d messages: %v, want some of them undelivered", n, err)
	}
	sent := acceptedIDs(srv)
	got, _ := drainSpool(t, dir)
	for i := range n {
		id := fmt.Sprintf("k-%04d", i)
		if sent[id]+got[id] == 0 {
			t.Errorf("%s was neither sent before the deadline nor by the next client", id)
		}
	}
	if int64(len(got)) < de.Undelivered {
		t.Errorf("the next client sent %d, fewer than the %d Shutdown reported kept", len(got), de.Undelivered)
	}
}

// TestInspectSpool: InspectSpool says what a spool holds, by type and
// age, while a client owns the directory, and changes nothing.
func TestInspectSpool(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	before := time.Now()
	fillSpool(t, dir, 25)
	down := analyticstest.NewServer(t, analyticstest.WithAPIKey("another-workspace"))
	c := newSpoolClient(t, down.URL, dir) // holds the directory's lock
	info, err := analytics.InspectSpool(dir)
	if err != nil {
		t.Fatalf("InspectSpool while a client owns the directory: %v", err)
	}
	if info.Messages != 25 || info.Types["track"] != 25 || info.Segments != 1 || info.Bytes == 0 {
		t.Errorf("InspectSpool: %+v, want 25 track messages in 1 segment", info)
	}
	if info.Oldest.Before(before.Add(-time.Second)) || info.Oldest.After(time.Now()) {
		t.Errorf("Oldest %v, want the time the first message was written (after %v)", info.Oldest, before)
	}
	if len(info.Damaged) != 0 || info.Torn != 0 || info.Unparsable != 0 {
		t.Errorf("InspectSpool found damage in an intact spool: %+v", info)
	}
	_ = c.Close()
	if _, err := analytics.InspectSpool(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("InspectSpool of a directory that does not exist: %v, want an error naming it", err)
	}
}

// TestSpoolDirectoryFreeOnceShutdownReturns: when Shutdown's deadline ends
// with a sender held by a RoundTripper that ignores its context, Shutdown
// still releases the spool's directory before it returns: a new client
// opens it at once and sends what was left.
func TestSpoolDirectoryFreeOnceShutdownReturns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	deaf := &deafTransport{release: make(chan struct{})}
	defer close(deaf.release)
	c, err := analytics.New(spoolKey, analytics.WithHTTPClient(&http.Client{Transport: deaf}), analytics.WithSpool(dir),
		analytics.WithLogger(quietLogger()), analytics.WithFlushInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := c.Enqueue(spoolTrack(fmt.Sprintf("f-%02d", i), i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "a request held by the deaf transport", func() bool { return deaf.started.Load() > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := c.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown with a request held returned nil")
	}
	got, _ := drainSpool(t, dir) // fails if New finds the directory in use
	if len(got) != 20 {
		t.Errorf("the next client sent %d messages, want the 20 left", len(got))
	}
}
