package analytics_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/cdpkit/analytics-go/internal/spool/faultfs"
)

// Messages the API refuses for the key (401, 403) are parked by the spool:
// sent again as soon as a request succeeds, or one run at a time as a
// probe whose wait doubles from 10 s to 5 min. These tests run on synctest
// (fake time) with the spool on faultfs, so the waits are observed, not
// guessed.

// newParkClient returns a client with a spool on an in-memory file system,
// sending through tr, closed (with a canceled context) at the end of the
// test.
func newParkClient(t *testing.T, tr *analyticstest.Transport, opts ...analytics.Option) *analytics.Client {
	t.Helper()
	c, err := analytics.New(spoolKey, append([]analytics.Option{
		analytics.WithHTTPClient(tr.Client()), analytics.WithEndpoint(tr.URL),
		analytics.WithLogger(quietLogger()), analytics.WithSpool("/spool"),
		analytics.WithSpoolFS(faultfs.New(1).Mount()), analytics.WithFlushInterval(50 * time.Millisecond),
		analytics.WithRetry(analytics.RetryPolicy{WaitMin: time.Millisecond, WaitMax: 2 * time.Millisecond}),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = c.Shutdown(ctx)
	})
	return c
}

// parkOne enqueues a message that the API refuses for the key, and
// returns once the spool has parked it.
func parkOne(t *testing.T, c *analytics.Client, tr *analyticstest.Transport, id string) {
	t.Helper()
	tr.SetDefault(analyticstest.Response{Status: 401})
	if err := c.Enqueue(spoolTrack(id, 0)); err != nil {
		t.Fatal(err)
	}
	var de *analytics.DeliveryError
	if err := flushWithin(t, c, time.Second); !errors.As(err, &de) || de.Undelivered != 1 {
		t.Fatalf("Flush of a message refused for the key: %v, want 1 not delivered yet", err)
	}
	if st := c.Stats(); st.SpoolPending != 1 || st.Failed != 0 {
		t.Fatalf("after a 401: SpoolPending %d Failed %d, want the message parked (1, 0)", st.SpoolPending, st.Failed)
	}
}

// TestSpoolParkedSentOnceAKeyIsTaken: once a request succeeds, the parked
// messages are sent at once, not when the next probe is due (10 s later,
// up to 5 min), and a Flush that waits for them returns as soon as they
// are delivered. Before the fix the release did not wake the feeder: the
// parked message waited for the probe timer, and so did the Flush.
func TestSpoolParkedSentOnceAKeyIsTaken(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr := analyticstest.NewTransport(t, analyticstest.WithAPIKey(spoolKey), analyticstest.WithViolationsAllowed())
		c := newParkClient(t, tr)
		parkOne(t, c, tr, "parked")

		tr.SetDefault(analyticstest.Response{})
		if err := c.Enqueue(spoolTrack("fresh", 1)); err != nil {
			t.Fatal(err)
		}
		// This Flush reports the message parked when it began, not
		// delivered yet.
		var de *analytics.DeliveryError
		if err := flushWithin(t, c, time.Second); !errors.As(err, &de) || de.Undelivered != 1 {
			t.Fatalf("Flush of a message sent with the key taken again: %v, want the parked one not delivered yet", err)
		}
		// Delivering "fresh" released "parked": this Flush waits for it.
		start := time.Now()
		if err := flushWithin(t, c, time.Minute); err != nil {
			t.Fatalf("Flush after the key was taken again: %v", err)
		}
		if waited := time.Since(start); waited > time.Second {
			t.Errorf("Flush waited %v for the parked message: it was sent at the next probe, not once a request succeeded", waited)
		}
		if got := acceptedIDs(tr); got["parked"] != 1 || got["fresh"] != 1 {
			t.Errorf("delivered %v, want parked and fresh once each", got)
		}
		st := c.Stats()
		spoolStatsAddUp(t, st)
		if st.Delivered != 2 || st.SpoolPending != 0 {
			t.Errorf("Delivered %d SpoolPending %d, want 2 and 0", st.Delivered, st.SpoolPending)
		}
	})
}

// TestSpoolProbeBacksOff: while the API refuses the key, a parked run is
// probed after 10 s, then after 20, 40, … up to 5 min; not every 10 s.
// Before the fix a probe of the only parked run reset the wait to 10 s
// when the run was parked again: 65 probes in 11 minutes.
func TestSpoolProbeBacksOff(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr := analyticstest.NewTransport(t, analyticstest.WithAPIKey(spoolKey), analyticstest.WithViolationsAllowed())
		c := newParkClient(t, tr)
		parkOne(t, c, tr, "parked")
		before := len(tr.Requests())
		time.Sleep(11 * time.Minute)
		synctest.Wait()
		// Probes at 10, 30, 70, 150, 310 and 610 s: 6.
		if probes := len(tr.Requests()) - before; probes < 5 || probes > 7 {
			t.Errorf("%d probes in 11 minutes of a refused key, want 6 (waits of 10 s doubling to 5 min)", probes)
		}
		// A request that succeeds ends the backoff: the parked message
		// is sent with it.
		tr.SetDefault(analyticstest.Response{})
		if err := c.Enqueue(spoolTrack("fresh", 1)); err != nil {
			t.Fatal(err)
		}
		var de *analytics.DeliveryError
		if err := flushWithin(t, c, time.Second); !errors.As(err, &de) || de.Undelivered != 1 {
			t.Fatalf("Flush with the key taken again: %v, want the parked one not delivered yet", err)
		}
		if err := flushWithin(t, c, time.Second); err != nil {
			t.Fatalf("Flush once the key is taken: %v", err)
		}
		if got := acceptedIDs(tr); got["parked"] != 1 {
			t.Errorf("parked message delivered %d times, want once", got["parked"])
		}
		spoolStatsAddUp(t, c.Stats())
	})
}

// TestSpoolShutdownSendsParked: Shutdown sends the parked messages once
// more when it begins, so a key the API takes again by then loses no
// time, and a healthy API leaves nothing on disk. A request that succeeds
// while Shutdown drains releases nothing more: before the fix for that,
// such a request released parked runs after the feeder had admitted
// everything and returned; they were numbered for a feeder that was gone,
// so the batcher never cut the last, partial batch, and Shutdown waited
// for its deadline (forever with context.Background()). Before Shutdown
// sent them, a run parked by a 401 answered just before the API came back
// stayed on disk after a Close with a healthy API (the model test's seed
// 28, about once in 400 runs).
func TestSpoolShutdownSendsParked(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr := analyticstest.NewTransport(t, analyticstest.WithAPIKey(spoolKey), analyticstest.WithViolationsAllowed())
		c := newParkClient(t, tr, analytics.WithMaxInFlight(1), analytics.WithBatchSize(2))
		parkOne(t, c, tr, "parked")

		// The API holds its answers: the one sender holds a full batch,
		// the batcher a second, and the third message waits in a
		// partial batch.
		hold := make(chan struct{})
		tr.SetDefault(analyticstest.Response{Hold: hold})
		for i := range 5 {
			if err := c.Enqueue(spoolTrack(fmt.Sprintf("m-%d", i), i)); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()

		done := make(chan error, 1)
		start := time.Now()
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			done <- c.Shutdown(ctx)
		}()
		synctest.Wait() // the feeder has admitted everything and returned
		close(hold)     // the held batches are delivered
		if err := <-done; err != nil {
			t.Errorf("Shutdown with a healthy API: %v", err)
		}
		if waited := time.Since(start); waited > time.Second {
			t.Errorf("Shutdown with a healthy API took %v: it waited for its deadline", waited)
		}
		got := acceptedIDs(tr)
		for _, id := range []string{"parked", "m-0", "m-1", "m-2", "m-3", "m-4"} {
			if got[id] != 1 {
				t.Errorf("%s delivered %d times, want once", id, got[id])
			}
		}
		st := c.Stats()
		spoolStatsAddUp(t, st)
		if st.FailedShutdown != 0 || st.SpoolPending != 0 {
			t.Errorf("FailedShutdown %d SpoolPending %d with a healthy API and time to spare, want 0 0", st.FailedShutdown, st.SpoolPending)
		}
	})
}

// TestSpoolShutdownKeepsWhatTheKeyStillRefuses: a parked message that
// Shutdown sends once more and the API refuses for the key again stays in
// the spool for the next client, reported so, and sent once by it.
func TestSpoolShutdownKeepsWhatTheKeyStillRefuses(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr := analyticstest.NewTransport(t, analyticstest.WithAPIKey(spoolKey), analyticstest.WithViolationsAllowed())
		fs := faultfs.New(1)
		c := newParkClient(t, tr, analytics.WithSpoolFS(fs.Mount()))
		parkOne(t, c, tr, "parked")
		requests := c.Stats().Requests

		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := c.Shutdown(ctx)
		var de *analytics.DeliveryError
		if !errors.As(err, &de) || de.Undelivered != 1 || !strings.Contains(err.Error(), "kept in the spool") {
			t.Errorf("Shutdown with the key still refused: %v, want 1 message kept in the spool", err)
		}
		st := c.Stats()
		spoolStatsAddUp(t, st)
		if sent := st.Requests - requests; sent != 1 {
			t.Errorf("Shutdown sent the parked message in %d requests, want 1", sent)
		}

		// The next client on the directory sends it, with the key taken.
		tr.SetDefault(analyticstest.Response{})
		next := newParkClient(t, tr, analytics.WithSpoolFS(fs.Mount()))
		if err := next.Close(); err != nil {
			t.Errorf("Close of the next client: %v", err)
		}
		if got := acceptedIDs(tr); got["parked"] != 1 {
			t.Errorf("parked delivered %d times, want once, by the next client", got["parked"])
		}
	})
}

// TestSpoolFlushReportsParked: a Flush begun after messages enqueued
// before it were parked (the API refused the key) reports them as not
// delivered yet; it does not return nil. Before the fix only a Flush
// already waiting when they were parked counted them: one begun a moment
// later (a full batch sent and refused before the Flush was called)
// returned nil with nothing delivered, and fillSpool's check failed about
// once in six runs under -race.
func TestSpoolFlushReportsParked(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr := analyticstest.NewTransport(t, analyticstest.WithAPIKey(spoolKey), analyticstest.WithViolationsAllowed())
		tr.SetDefault(analyticstest.Response{Status: 401})
		c := newParkClient(t, tr, analytics.WithBatchSize(10), analytics.WithFlushInterval(time.Hour))
		for i := range 10 { // a full batch: sent at once
			if err := c.Enqueue(spoolTrack(fmt.Sprint("k-", i), i)); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait() // refused for the key, and parked
		if st := c.Stats(); st.SpoolPending != 10 || st.SpoolRequeued != 10 {
			t.Fatalf("before Flush: %+v, want the 10 messages parked", st)
		}
		var de *analytics.DeliveryError
		err := flushWithin(t, c, time.Second)
		if !errors.As(err, &de) || de.Undelivered != 10 || !strings.Contains(err.Error(), "takes the key") {
			t.Fatalf("Flush of 10 parked messages: %v, want 10 not delivered yet", err)
		}
		// A message enqueued now and delivered does not hide them from
		// the next Flush either, unless it released them: it did, and
		// they are delivered too.
		tr.SetDefault(analyticstest.Response{})
		if err := c.Enqueue(spoolTrack("fresh", 10)); err != nil {
			t.Fatal(err)
		}
		if err := flushWithin(t, c, time.Second); !errors.As(err, &de) || de.Undelivered != 10 {
			t.Errorf("Flush of a delivered message with 10 parked before it: %v, want 10 not delivered yet", err)
		}
		if err := flushWithin(t, c, time.Second); err != nil {
			t.Errorf("Flush once the parked messages were released and delivered: %v", err)
		}
		if got := acceptedIDs(tr); len(got) != 11 {
			t.Errorf("%d of 11 messages arrived", len(got))
		}
	})
}
