package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"
)

func open(t *testing.T, dir string, opt Options) (*Log, Recovery) {
	t.Helper()
	if opt.MaxBytes == 0 {
		opt.MaxBytes = 1 << 20
	}
	if opt.SegmentBytes == 0 {
		opt.SegmentBytes = 1 << 10
	}
	l, rec, err := Open(dir, opt)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l, rec
}

// readAll reads every record from the start, as the feeder does.
func readAll(t *testing.T, l *Log) ([]string, []Ref) {
	t.Helper()
	c := l.Start()
	var got []string
	var refs []Ref
	for {
		p, ref, ok, err := l.Next(&c)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return got, refs
		}
		got = append(got, string(p))
		refs = append(refs, ref)
	}
}

// TestSyncInterval: with Sync d, what Append wrote is fsynced d after the
// first unsynced write, not before, and once per interval however many
// records came; with Sync 0 every Append is fsynced before it returns.
func TestSyncInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, _ := open(t, t.TempDir(), Options{Sync: time.Second})
		for i := range 10 {
			if _, err := l.Append([]byte(fmt.Sprint("r", i))); err != nil {
				t.Fatal(err)
			}
		}
		// Open's new segment is synced with the first records.
		time.Sleep(time.Second - time.Millisecond)
		synctest.Wait()
		if n := l.Syncs(); n != 0 {
			t.Fatalf("%d fsyncs before the interval ended, want 0", n)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if n := l.Syncs(); n != 1 {
			t.Fatalf("%d fsyncs at the end of the interval, want 1", n)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := l.Syncs(); n != 1 {
			t.Fatalf("%d fsyncs with nothing written, want still 1", n)
		}
		if _, err := l.Append([]byte("late")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if n := l.Syncs(); n != 2 {
			t.Fatalf("%d fsyncs a second after a later write, want 2", n)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	})
	l, _ := open(t, t.TempDir(), Options{Sync: 0})
	defer l.Close()
	for i := range 3 {
		if _, err := l.Append([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if n := l.Syncs(); n != int64(i+1) {
			t.Fatalf("Sync 0: %d fsyncs after %d appends", n, i+1)
		}
	}
}

// TestReopen: records not acknowledged are read back after a reopen, in
// order; acknowledged ones are skipped; fully acknowledged segments are
// deleted whole.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{Sync: -1, SegmentBytes: 200})
	var want []string
	var refs []Ref
	for i := range 40 {
		p := fmt.Sprintf("record-%02d-%s", i, "abcdefghij")
		ref, err := l.Append([]byte(p))
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
		if i%3 != 0 {
			want = append(want, p)
		}
	}
	segsBefore, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	var acked []Ref
	for i, r := range refs {
		if i%3 == 0 {
			acked = append(acked, r)
		}
	}
	l.Ack(acked)
	l.Close()

	l2, rec := open(t, dir, Options{Sync: -1, SegmentBytes: 200})
	if rec.Records != len(want) {
		t.Fatalf("Recovery.Records %d, want %d", rec.Records, len(want))
	}
	got, refs2 := readAll(t, l2)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read back %v\nwant %v", got, want)
	}
	l2.Ack(refs2)
	l2.Close()
	l3, rec := open(t, dir, Options{Sync: -1, SegmentBytes: 200})
	defer l3.Close()
	if rec.Records != 0 {
		t.Fatalf("after acknowledging all, %d records recovered", rec.Records)
	}
	segsAfter, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segsBefore) < 5 || len(segsAfter) != 1 {
		t.Fatalf("segments: %d before, %d after every record was acknowledged (want only the new active one)", len(segsBefore), len(segsAfter))
	}
	acks, _ := filepath.Glob(filepath.Join(dir, "*.ack"))
	if len(acks) != 0 {
		t.Errorf("ack files left: %v", acks)
	}
}

// TestFull: Append refuses a record that would pass MaxBytes, and takes
// records again once a sealed segment is acknowledged and deleted.
func TestFull(t *testing.T) {
	l, _ := open(t, t.TempDir(), Options{Sync: -1, MaxBytes: 1000, SegmentBytes: 300})
	defer l.Close()
	var refs []Ref
	for {
		ref, err := l.Append(make([]byte, 50))
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	if b := l.Bytes(); b > 1000 {
		t.Fatalf("Bytes %d over MaxBytes", b)
	}
	room := l.Room()
	l.Ack(refs[:5]) // the first segment: 8 + 5*58 bytes
	select {
	case <-room:
	default:
		t.Fatal("Room not signalled after a segment was deleted")
	}
	if _, err := l.Append(make([]byte, 50)); err != nil {
		t.Fatalf("Append after space was freed: %v", err)
	}
}

// TestLockAndReadOnly: a second Open of the directory fails while the
// first holds it.
func TestLockAndReadOnly(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{Sync: -1})
	if _, _, err := Open(dir, Options{MaxBytes: 1 << 20, SegmentBytes: 1 << 10}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	l.Close()
	l2, _ := open(t, dir, Options{Sync: -1})
	l2.Close()
	if _, err := os.Stat(filepath.Join(dir, lockName)); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedKeptUntilCopied: a damaged segment is set aside only after
// its intact records are copied, so an Open that fails part way (here on
// an unreadable later segment) loses none of them to the next Open.
func TestDamagedKeptUntilCopied(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{SegmentBytes: 1 << 20})
	want := []string{"one", "two", "three"}
	for _, p := range want {
		if _, err := l.Append([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, "0000000001.seg")
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 'x')  // a hole before the last record...
	data = append(data, data[segHeader:segHeader+recHeader+3]...) // ...and an intact copy after it
	if err := os.WriteFile(seg, data, 0o600); err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(dir, "0000000002.seg")
	if err := os.Mkdir(blocker, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(dir, Options{MaxBytes: 1 << 20, SegmentBytes: 1 << 20}); err == nil {
		t.Fatal("Open with a directory for a segment succeeded")
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	l, rec := open(t, dir, Options{SegmentBytes: 1 << 20})
	defer l.Close()
	got, _ := readAll(t, l)
	if len(got) != 4 || got[0] != "one" || got[2] != "three" {
		t.Fatalf("after a failed Open, read %q (recovery %+v), want the 4 intact records", got, rec)
	}
	if rec.SetAside != 1 {
		t.Errorf("SetAside %d, want 1", rec.SetAside)
	}
}

// TestFullUnderOneSegment: with MaxBytes below SegmentBytes the spool fills
// inside its active segment; once every record in it is acknowledged the
// space comes back (Room is closed, Append succeeds) instead of the spool
// staying full for good.
func TestFullUnderOneSegment(t *testing.T) {
	l, _ := open(t, t.TempDir(), Options{MaxBytes: 1 << 10, SegmentBytes: 1 << 20})
	defer l.Close()
	var refs []Ref
	for {
		ref, err := l.Append([]byte("a record of some length"))
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	room := l.Room()
	l.Ack(refs)
	select {
	case <-room:
	default:
		t.Fatal("acknowledging every record freed no space")
	}
	if _, err := l.Append([]byte("after")); err != nil {
		t.Fatalf("Append after every record was acknowledged: %v", err)
	}
}
