//go:build linux

package analytics_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

// mountSmallDisk mounts a tmpfs of size (such as "2m") on a new directory
// and returns it; it is unmounted when the test ends. It skips the test
// where it cannot mount (not root, or no mount permission): the same
// faults are injected everywhere by spool_model_test.go.
func mountSmallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return filepath.Join(dir, "spool")
}

// fillDisk writes a file in dir until the disk refuses, so that not a byte
// is left.
func fillDisk(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "..", "filler"))
	if err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatal(err)
	}
	if f == nil {
		return
	}
	defer f.Close()
	block := make([]byte, 4096)
	for range 1 << 20 {
		if _, err := f.Write(block); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			t.Fatal(err)
		}
	}
	for _, n := range []int{512, 64, 8, 1} {
		for {
			if _, err := f.Write(block[:n]); err != nil {
				break
			}
		}
	}
}

// TestSpoolFullDisk: a spool on a 2 MiB disk, the API holding every
// request. Enqueue returns the disk's ENOSPC once it is full; while the
// disk stays full and the API answers 503 (retries given up and queued
// again), SpoolWriteErrors counts only the Enqueue calls refused. Once the
// API is back everything accepted is delivered, the space comes back, and
// Enqueue works again, without a restart.
func TestSpoolFullDisk(t *testing.T) {
	t.Parallel()
	dir := mountSmallDisk(t, "2m")
	hold := make(chan struct{})
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(spoolKey))
	srv.SetDefault(analyticstest.Response{Hold: hold})
	c := newSpoolClient(t, srv.URL, dir, analytics.WithFlushInterval(10*time.Millisecond),
		analytics.WithMaxAttempts(2), analytics.WithRetryWait(time.Millisecond, time.Millisecond))
	accepted := 0
	for {
		err := c.Enqueue(spoolTrack(fmt.Sprintf("f-%05d", accepted), accepted))
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatalf("Enqueue %d: %v, want ENOSPC once the disk is full", accepted, err)
		}
		if accepted++; accepted > 20_000 {
			t.Fatal("2 MiB never filled")
		}
	}
	refused := 1
	srv.SetDefault(analyticstest.Response{Status: 503})
	close(hold)
	waitFor(t, "messages given up and queued again", func() bool { return c.Stats().SpoolRequeued >= int64(accepted) })
	for range 20 {
		if err := c.Enqueue(spoolTrack("refused", 0)); errors.Is(err, syscall.ENOSPC) {
			refused++
		} else if err == nil {
			t.Fatal("Enqueue took a message on a full disk")
		}
	}
	if st := c.Stats(); st.SpoolWriteErrors != int64(refused) {
		t.Errorf("SpoolWriteErrors %d, want the %d Enqueue calls refused", st.SpoolWriteErrors, refused)
	}

	srv.SetDefault(analyticstest.Response{})
	waitFor(t, "every accepted message delivered", func() bool { return c.Stats().Delivered >= int64(accepted) })
	for i := range 50 {
		if err := c.Enqueue(spoolTrack(fmt.Sprintf("g-%02d", i), i)); err != nil {
			t.Fatalf("Enqueue %d of 50 after the disk had room again: %v", i, err)
		}
	}
	if err := flushWithin(t, c, 20*time.Second); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	got := acceptedIDs(srv)
	for i := range accepted {
		if id := fmt.Sprintf("f-%05d", i); got[id] == 0 {
			t.Fatalf("%s was accepted and never arrived", id)
		}
	}
	for i := range 50 {
		if id := fmt.Sprintf("g-%02d", i); got[id] != 1 {
			t.Errorf("%s arrived %d times, want once", id, got[id])
		}
	}
	spoolStatsAddUp(t, c.Stats())
	t.Logf("%d messages filled 2 MiB", accepted)
}

// TestSpoolNewOnFullDisk: New starts on a spool whose disk is full to the
// last byte (it creates nothing until it has something to write), sends
// what the earlier client left, and takes messages again once that has
// freed space.
func TestSpoolNewOnFullDisk(t *testing.T) {
	t.Parallel()
	dir := mountSmallDisk(t, "2m")
	ids := fillSpool(t, dir, 1000)
	fillDisk(t, dir)
	up := analyticstest.NewServer(t, analyticstest.WithAPIKey(spoolKey))
	c := newSpoolClient(t, up.URL, dir)
	if err := flushWithin(t, c, 20*time.Second); err != nil {
		t.Fatalf("Flush after New on a full disk: %v", err)
	}
	got := acceptedIDs(up)
	for _, id := range ids {
		if got[id] != 1 {
			t.Fatalf("%s arrived %d times, want once", id, got[id])
		}
	}
	if err := c.Enqueue(spoolTrack("after", 0)); err != nil {
		t.Fatalf("Enqueue once the delivered segment freed its space: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := acceptedIDs(up); got["after"] != 1 {
		t.Errorf("the message enqueued after recovery arrived %d times", got["after"])
	}
}
