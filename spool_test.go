package analytics_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

// spoolKey is the API key of the spool's tests.
const spoolKey = "sk_spool_test_key"

// newSpoolClient returns a client on srv with a spool in dir, quiet and
// without a flush interval, closed at the end of the test.
func newSpoolClient(t testing.TB, url, dir string, opts ...analytics.Option) *analytics.Client {
	t.Helper()
	c, err := analytics.New(spoolKey, append([]analytics.Option{
		analytics.WithEndpoint(url),
		analytics.WithLogger(slog.New(slog.DiscardHandler)),
		analytics.WithFlushInterval(time.Hour),
		analytics.WithRetryWait(time.Millisecond, 2*time.Millisecond),
		analytics.WithSpool(dir),
	}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func spoolTrack(id string, i int) analytics.Message {
	return analytics.Track{UserID: "u-" + id, Event: "Spooled", MessageID: id,
		Timestamp:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(i) * time.Millisecond),
		Properties: analytics.Properties{"n": i, "pad": strings.Repeat("x", 100)}}
}

func flushWithin(t testing.TB, c *analytics.Client, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return c.Flush(ctx)
}

func spoolStatsAddUp(t testing.TB, st analytics.Stats) {
	t.Helper()
	if st.Enqueued+st.SpoolRecovered != st.Delivered+st.Failed+st.Queued+st.InFlight+st.SpoolPending {
		t.Errorf("Stats do not add up: Enqueued %d + SpoolRecovered %d != Delivered %d + Failed %d + Queued %d + InFlight %d + SpoolPending %d",
			st.Enqueued, st.SpoolRecovered, st.Delivered, st.Failed, st.Queued, st.InFlight, st.SpoolPending)
	}
	if st.Failed != st.FailedStatus+st.FailedRetries+st.FailedShutdown+st.FailedSpool {
		t.Errorf("Stats do not add up: Failed %d != FailedStatus %d + FailedRetries %d + FailedShutdown %d + FailedSpool %d",
			st.Failed, st.FailedStatus, st.FailedRetries, st.FailedShutdown, st.FailedSpool)
	}
}

// segFiles returns the spool's segment files, oldest first, and their
// total size.
func segFiles(t testing.TB, dir string) ([]string, int64) {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	var total int64
	for _, p := range m {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
	}
	return m, total
}

// record is one record of a segment file, as the spool's format
// (internal/spool) lays it out: length, CRC-32C, payload.
type record struct {
	off, end int64
	id       string
}

var idRE = regexp.MustCompile(`"messageId":"([^"]+)"`)

// records parses a segment file written by the spool.
func records(t testing.TB, path string) []record {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rs []record
	for off := int64(8); off+8 <= int64(len(data)); {
		n := int64(binary.LittleEndian.Uint32(data[off:]))
		end := off + 8 + n
		if end > int64(len(data)) {
			break
		}
		m := idRE.FindSubmatch(data[off+8 : end])
		if m == nil {
			t.Fatalf("%s: record at %d has no messageId", path, off)
		}
		rs = append(rs, record{off, end, string(m[1])})
		off = end
	}
	return rs
}

// fillSpool enqueues n messages with a spool in dir against an API that
// refuses the key (401), so that none is delivered and each stays in the
// spool once, in its first record, and closes the client. It returns
// their ids.
func fillSpool(t *testing.T, dir string, n int, opts ...analytics.Option) []string {
	t.Helper()
	down := analyticstest.NewServer(t, analyticstest.WithAPIKey("the-workspace-key"))
	c := newSpoolClient(t, down.URL, dir, opts...)
	var ids []string
	for i := range n {
		id := fmt.Sprintf("m-%04d", i)
		if err := c.Enqueue(spoolTrack(id, i)); err != nil {
			t.Fatalf("Enqueue %d: %v", i, err)
		}
		ids = append(ids, id)
	}
	if err := flushWithin(t, c, 10*time.Second); err == nil {
		t.Fatal("Flush against an API refusing the key returned nil")
	}
	if err := c.Close(); err != nil {
		t.Logf("Close: %v", err)
	}
	return ids
}

// drainSpool opens a client on dir against a healthy fake, flushes, and
// returns how often each id arrived and the client's Stats.
func drainSpool(t *testing.T, dir string, opts ...analytics.Option) (map[string]int, analytics.Stats) {
	t.Helper()
	got, st, err := drainSpoolErr(t, dir, opts...)
	if err != nil {
		t.Fatalf("Flush after recovery: %v", err)
	}
	return got, st
}

// drainSpoolErr is drainSpool for a spool whose Flush may report losses:
// it returns Flush's result.
func drainSpoolErr(t *testing.T, dir string, opts ...analytics.Option) (map[string]int, analytics.Stats, error) {
	t.Helper()
	up := analyticstest.NewServer(t, analyticstest.WithAPIKey(spoolKey))
	c := newSpoolClient(t, up.URL, dir, opts...)
	ferr := flushWithin(t, c, 10*time.Second)
	if errors.Is(ferr, context.DeadlineExceeded) {
		t.Fatalf("Flush after recovery: %v", ferr)
	}
	st := c.Stats()
	spoolStatsAddUp(t, st)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	got := acceptedIDs(up)
	return got, st, ferr
}

// TestSpoolResendsAfterRestart: messages a client could not deliver are
// sent by the next client on the directory, first, with their original
// messageId and timestamp and the same bytes, and then leave the spool.
func TestSpoolResendsAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ids := fillSpool(t, dir, 40)

	up := analyticstest.NewServer(t, analyticstest.WithAPIKey(spoolKey))
	// One sender, so that batches arrive in the order they were cut: the
	// recovered messages may be fed to the queue in several batches, and
	// with several senders those could overtake each other on the wire.
	c := newSpoolClient(t, up.URL, dir, analytics.WithMaxInFlight(1))
	if err := c.Enqueue(spoolTrack("new-1", 99)); err != nil {
		t.Fatal(err)
	}
	if err := flushWithin(t, c, 10*time.Second); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	msgs := up.Messages()
	if len(msgs) != len(ids)+1 {
		t.Fatalf("received %d messages, want %d", len(msgs), len(ids)+1)
	}
	for i, id := range ids {
		m := msgs[i]
		if m.MessageID != id {
			t.Fatalf("message %d is %q, want %q (the recovered ones first, in order)", i, m.MessageID, id)
		}
		want := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(i) * time.Millisecond)
		if !m.Timestamp.Equal(want) {
			t.Errorf("%s: timestamp %v, want the original %v", id, m.Timestamp, want)
		}
	}
	if msgs[len(ids)].MessageID != "new-1" {
		t.Errorf("last message %q, want new-1", msgs[len(ids)].MessageID)
	}
	st := c.Stats()
	if st.SpoolRecovered != int64(len(ids)) || st.Delivered != int64(len(ids))+1 || st.Enqueued != 1 {
		t.Errorf("Stats: SpoolRecovered %d Delivered %d Enqueued %d, want %d, %d, 1", st.SpoolRecovered, st.Delivered, st.Enqueued, len(ids), len(ids)+1)
	}
	spoolStatsAddUp(t, st)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// Delivered: nothing is left for a third client.
	got, st := drainSpool(t, dir)
	if len(got) != 0 || st.SpoolRecovered != 0 {
		t.Errorf("a third client re-sent %d messages (SpoolRecovered %d), want none", len(got), st.SpoolRecovered)
	}
}

// TestSpoolRefusedLeaves: a message whose content the API refuses (400)
// leaves the spool; one refused for the key (401) stays for a client with
// the right key.
func TestSpoolRefusedLeaves(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		stays  bool
	}{{400, false}, {401, true}} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			dir := t.TempDir()
			srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(spoolKey), analyticstest.WithViolationsAllowed())
			srv.SetDefault(analyticstest.Response{Status: tc.status})
			c := newSpoolClient(t, srv.URL, dir)
			if err := c.Enqueue(spoolTrack("only", 0)); err != nil {
				t.Fatal(err)
			}
			if err := flushWithin(t, c, 10*time.Second); err == nil {
				t.Fatal("Flush returned nil")
			}
			_ = c.Close()
			got, _ := drainSpool(t, dir)
			if stayed := got["only"] == 1; stayed != tc.stays {
				t.Errorf("after %d the message was re-sent: %v, want %v", tc.status, stayed, tc.stays)
			}
		})
	}
}

// TestSpoolLocked: a second client on the directory fails in New, and the
// directory is free again once the first is closed.
func TestSpoolLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(spoolKey))
	c := newSpoolClient(t, srv.URL, dir)
	_, err := analytics.New(spoolKey, analytics.WithEndpoint(srv.URL), analytics.WithSpool(dir))
	if err == nil || !strings.Contains(err.Error(), "in use by another client") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second New on the directory: %v, want an error saying it is in use", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c2 := newSpoolClient(t, srv.URL, dir)
	if err := c2.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSpoolOptions: bad values and spool options without WithSpool are
// errors from New naming the option; a directory that cannot be written
// is a clear error.
func TestSpoolOptions(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string][]analytics.Option{
		"WithSpool":         {analytics.WithSpool("")},
		"WithSpoolMaxBytes": {analytics.WithSpool(t.TempDir()), analytics.WithSpoolMaxBytes(1000)},
		"need WithSpool":    {analytics.WithSpoolSync(time.Second)},
	} {
		c, err := analytics.New(spoolKey, opts...)
		if err == nil {
			_ = c.Close()
			t.Errorf("%s: New returned no error", name)
			continue
		}
		if !strings.Contains(err.Error(), strings.TrimPrefix(name, "need ")) {
			t.Errorf("%s: error %q does not name the option", name, err)
		}
	}
	if os.Geteuid() != 0 {
		ro := t.TempDir()
		if err := os.Chmod(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		_, err := analytics.New(spoolKey, analytics.WithSpool(filepath.Join(ro, "spool")))
		if err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("New on a directory it cannot write: %v, want permission denied", err)
		}
	}
}

// spoolOfSegments fills a spool in a new directory with 60 messages in
// segments of 4 KiB, and returns the directory and its segment files,
// oldest first (at least 3).
func spoolOfSegments(t *testing.T) (dir string, segs []string) {
	t.Helper()
	dir = t.TempDir()
	fillSpool(t, dir, 60, analytics.WithSpoolSegmentBytes(4096))
	segs, _ = segFiles(t, dir)
	if len(segs) < 3 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	return dir, segs
}

// idsOutside returns the ids of the records in segs other than skip.
func idsOutside(t *testing.T, segs []string, skip string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, p := range segs {
		if p == skip {
			continue
		}
		for _, r := range records(t, p) {
			ids[r.id] = true
		}
	}
	return ids
}

// checkIntactOnce checks that every id in want arrived exactly once, and
// nothing else did.
func checkIntactOnce(t *testing.T, want map[string]bool, got map[string]int) {
	t.Helper()
	for id := range want {
		if got[id] != 1 {
			t.Errorf("intact %s arrived %d times, want once", id, got[id])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d messages arrived, want the %d intact ones", len(got), len(want))
	}
}

// TestSpoolTornTail: the newest segment cut at random offsets (a crash
// mid-write); New starts, drops and counts the torn record, and every
// intact record is delivered.
func TestSpoolTornTail(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	for rep := range 5 {
		t.Run(fmt.Sprint(rep), func(t *testing.T) {
			dir, segs := spoolOfSegments(t)
			last := segs[len(segs)-1]
			if len(records(t, last)) == 0 {
				// Close left an empty active segment: cut the one before.
				last = segs[len(segs)-2]
			}
			rs := records(t, last)
			cut := 8 + rng.Int64N(rs[len(rs)-1].end-8)
			if err := os.Truncate(last, cut); err != nil {
				t.Fatal(err)
			}
			want := idsOutside(t, segs, last)
			torn := 0
			for _, r := range rs { // as they were before the cut
				if r.end <= cut {
					want[r.id] = true
				} else if r.off < cut {
					torn++
				}
			}
			got, st := drainSpool(t, dir)
			checkIntactOnce(t, want, got)
			if last == segs[len(segs)-1] && st.SpoolTorn != int64(torn) {
				t.Errorf("SpoolTorn %d, want %d (cut at %d)", st.SpoolTorn, torn, cut)
			}
		})
	}
}

// TestSpoolDamagedMiddle: a byte flipped in a middle segment; New starts,
// every intact record, of that segment too, is delivered, the damaged
// region is reported as a lost message (FailedSpool, ErrSpoolLost, in the
// Flush that waited for it), and the segment is set aside once done.
func TestSpoolDamagedMiddle(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(2, uint64(time.Now().UnixNano())))
	for rep := range 5 {
		t.Run(fmt.Sprint(rep), func(t *testing.T) {
			dir, segs := spoolOfSegments(t)
			mid := segs[1+rng.IntN(len(segs)-2)]
			data, err := os.ReadFile(mid)
			if err != nil {
				t.Fatal(err)
			}
			at := 8 + rng.Int64N(int64(len(data))-8)
			data[at] ^= byte(1 + rng.IntN(255))
			rs := records(t, mid) // before the flip
			if err := os.WriteFile(mid, data, 0o600); err != nil {
				t.Fatal(err)
			}
			want := idsOutside(t, segs, mid)
			for _, r := range rs {
				if at < r.off || at >= r.end {
					want[r.id] = true
				}
			}
			got, st, err := drainSpoolErr(t, dir)
			checkIntactOnce(t, want, got)
			var de *analytics.DeliveryError
			if !errors.As(err, &de) || !errors.Is(err, analytics.ErrSpoolLost) || de.Undelivered != st.SpoolDamaged {
				t.Errorf("Flush after recovery: %v, want a *DeliveryError for the %d damaged regions, matching ErrSpoolLost", err, st.SpoolDamaged)
			}
			if st.SpoolSetAside != 1 || st.SpoolDamaged < 1 || st.FailedSpool != st.SpoolDamaged {
				t.Errorf("SpoolSetAside %d SpoolDamaged %d FailedSpool %d, want 1, at least 1, and one lost message per damaged region",
					st.SpoolSetAside, st.SpoolDamaged, st.FailedSpool)
			}
			if _, err := os.Stat(mid + ".damaged"); err != nil {
				t.Errorf("damaged segment not set aside: %v", err)
			}
		})
	}
}

// TestSpoolBounds: at its cap the spool refuses with ErrQueueFull (and
// EnqueueContext waits until its context ends); the memory queue being
// full is no refusal, the disk holds the overflow; once the API is back
// everything is delivered and disk use falls.
func TestSpoolBounds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(spoolKey))
	srv.SetDefault(analyticstest.Response{Status: 503})
	const capBytes = 1 << 20
	c := newSpoolClient(t, srv.URL, dir,
		analytics.WithSpoolMaxBytes(capBytes), analytics.WithSpoolSegmentBytes(64<<10),
		analytics.WithQueueCapacity(100), analytics.WithBatchSize(50), analytics.WithMaxInFlight(1),
		analytics.WithMaxAttempts(100), analytics.WithMaxRetryTime(time.Minute))
	var accepted []string
	for i := 0; ; i++ {
		id := fmt.Sprintf("b-%05d", i)
		err := c.Enqueue(spoolTrack(id, i))
		if errors.Is(err, analytics.ErrQueueFull) {
			break
		}
		if err != nil {
			t.Fatalf("Enqueue %d: %v", i, err)
		}
		accepted = append(accepted, id)
		if i > 20_000 {
			t.Fatal("the spool never filled")
		}
	}
	if len(accepted) <= 100 {
		t.Fatalf("only %d accepted: the memory queue's bound (100) refused, not the spool's", len(accepted))
	}
	st := c.Stats()
	if st.SpoolBytes > capBytes || st.SpoolBytes < capBytes*9/10 || st.DroppedQueueFull != 1 {
		t.Errorf("at the cap: SpoolBytes %d (cap %d), DroppedQueueFull %d", st.SpoolBytes, capBytes, st.DroppedQueueFull)
	}
	if _, onDisk := segFiles(t, dir); onDisk < capBytes*9/10 {
		t.Errorf("segment files hold %d bytes, want about the cap %d", onDisk, capBytes)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err := c.EnqueueContext(ctx, spoolTrack("waits", 0))
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("EnqueueContext at the cap: %v, want it to wait until its deadline", err)
	}

	srv.SetDefault(analyticstest.Response{})
	if err := flushWithin(t, c, 30*time.Second); err != nil {
		t.Fatalf("Flush once the API is back: %v", err)
	}
	got := acceptedIDs(srv)
	for _, id := range accepted {
		if got[id] != 1 {
			t.Fatalf("%s arrived %d times, want once", id, got[id])
		}
	}
	if _, onDisk := segFiles(t, dir); onDisk > 128<<10 {
		t.Errorf("after delivery the segment files hold %d bytes: disk use did not fall", onDisk)
	}
	// The space counts as free once the deletions are fsynced (within
	// the sync interval, 1 s by default).
	waitFor(t, "SpoolBytes to fall", func() bool { return c.Stats().SpoolBytes <= 128<<10 })
	st = c.Stats()
	spoolStatsAddUp(t, st)
	if err := c.EnqueueContext(context.Background(), spoolTrack("after", 0)); err != nil {
		t.Errorf("Enqueue after delivery freed space: %v", err)
	}
}

// TestSpoolShutdownKeeps: Shutdown reports the messages still only on disk
// as not delivered, kept in the spool, and the next client sends them.
func TestSpoolShutdownKeeps(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rt := analyticstest.NewTransport(t, analyticstest.WithAPIKey(spoolKey))
	rt.SetDefault(analyticstest.Response{Hang: true})
	c, err := analytics.New(spoolKey, analytics.WithHTTPClient(rt.Client()), analytics.WithSpool(dir),
		analytics.WithLogger(slog.New(slog.DiscardHandler)),
		analytics.WithQueueCapacity(10), analytics.WithBatchSize(10), analytics.WithMaxInFlight(1))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := c.Enqueue(spoolTrack(fmt.Sprintf("s-%03d", i), i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	err = c.Shutdown(ctx)
	cancel()
	var de *analytics.DeliveryError
	if !errors.As(err, &de) || de.Undelivered != 100 || !strings.Contains(err.Error(), "kept in the spool") {
		t.Fatalf("Shutdown: %v, want 100 undelivered, kept in the spool", err)
	}
	got, _ := drainSpool(t, dir)
	if len(got) != 100 {
		t.Errorf("the next client sent %d messages, want 100", len(got))
	}
}

// TestSpoolSyncDefault: by default what Enqueue wrote is fsynced one
// second later (DefaultSpoolSync), not before; WithSpoolSync(0) fsyncs
// before Enqueue returns.
func TestSpoolSyncDefault(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt := analyticstest.NewTransport(t, analyticstest.WithAPIKey(spoolKey))
		c, err := analytics.New(spoolKey, analytics.WithHTTPClient(rt.Client()), analytics.WithSpool(t.TempDir()),
			analytics.WithLogger(slog.New(slog.DiscardHandler)), analytics.WithFlushInterval(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Enqueue(spoolTrack("a", 0)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(analytics.DefaultSpoolSync - time.Millisecond)
		synctest.Wait()
		if n := c.Stats().SpoolSyncs; n != 0 {
			t.Fatalf("%d fsyncs before the default interval ended, want 0", n)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if n := c.Stats().SpoolSyncs; n != 1 {
			t.Fatalf("%d fsyncs when the default interval ended, want 1", n)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	})
	c := newSpoolClient(t, "http://127.0.0.1:1", t.TempDir(), analytics.WithSpoolSync(0))
	for i := range 3 {
		if err := c.Enqueue(spoolTrack(fmt.Sprint("s", i), i)); err != nil {
			t.Fatal(err)
		}
		if n := c.Stats().SpoolSyncs; n != int64(i+1) {
			t.Fatalf("WithSpoolSync(0): %d fsyncs after %d messages", n, i+1)
		}
	}
}

// TestSpoolRequeuesGivenUp: a message given up after its retries is queued
// again in the same run (a Flush that waited for it says it was not
// delivered yet; it is not counted failed), sent once the API is back, and
// its segment is freed without a restart.
func TestSpoolRequeuesGivenUp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(spoolKey))
	srv.SetDefault(analyticstest.Response{Status: 503})
	c := newSpoolClient(t, srv.URL, dir, analytics.WithMaxAttempts(2), analytics.WithSpoolSegmentBytes(4096))
	for i := range 30 {
		if err := c.Enqueue(spoolTrack(fmt.Sprintf("r-%02d", i), i)); err != nil {
			t.Fatal(err)
		}
	}
	var de *analytics.DeliveryError
	if err := flushWithin(t, c, 10*time.Second); !errors.As(err, &de) || de.Undelivered != 30 || !strings.Contains(err.Error(), "sends it again") {
		t.Fatalf("Flush during the outage: %v, want 30 not delivered yet, sent again", err)
	}
	st := c.Stats()
	if st.SpoolRequeued < 30 || st.Failed != 0 {
		t.Errorf("SpoolRequeued %d Failed %d, want at least 30 and 0: a message the spool sends again is not lost", st.SpoolRequeued, st.Failed)
	}
	spoolStatsAddUp(t, st)

	srv.SetDefault(analyticstest.Response{})
	if err := flushWithin(t, c, 10*time.Second); err != nil {
		t.Fatalf("Flush once the API is back: %v", err)
	}
	got := acceptedIDs(srv)
	for i := range 30 {
		if id := fmt.Sprintf("r-%02d", i); got[id] != 1 {
			t.Errorf("%s arrived %d times, want once", id, got[id])
		}
	}
	st = c.Stats()
	spoolStatsAddUp(t, st)
	if st.Delivered != 30 {
		t.Errorf("Delivered %d, want 30", st.Delivered)
	}
	if segs, _ := segFiles(t, dir); len(segs) != 0 {
		t.Errorf("%d segment files after delivery, want none: every message in them is done", len(segs))
	}
	_ = c.Close()
	if got, _ := drainSpool(t, dir); len(got) != 0 {
		t.Errorf("the next client re-sent %d delivered messages", len(got))
	}
}
