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

// ReadAll reads every record from the start, as the feeder does, failing
// on a loss. It is exported for the package's external tests too.
func ReadAll(t *testing.T, l *Log) ([]string, []Ref) {
	t.Helper()
	r := l.NewReader()
	var got []string
	var refs []Ref
	for {
		rec, ok := r.Next()
		if !ok {
			return got, refs
		}
		if rec.Lost > 0 {
			t.Fatalf("%d records lost", rec.Lost)
		}
		got = append(got, string(rec.Payload))
		refs = append(refs, rec.Ref)
	}
}

// TestSyncInterval: with Sync d, what Append wrote is fsynced d after the
// first unsynced write, not before, and once per interval however many
// records came; with Sync 0 every Append is fsynced before it returns.
func TestSyncInterval(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		l, _ := open(t, t.TempDir(), Options{Sync: time.Second})
		for i := range 10 {
			if _, err := l.Append([]byte(fmt.Sprint("r", i))); err != nil {
				t.Fatal(err)
			}
		}
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
	t.Parallel()
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
	got, refs2 := ReadAll(t, l2)
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
	if len(segsBefore) < 5 || len(segsAfter) != 0 {
		t.Fatalf("segments: %d before, %d after every record was acknowledged (want none: Open creates none)", len(segsBefore), len(segsAfter))
	}
	acks, _ := filepath.Glob(filepath.Join(dir, "*.ack"))
	if len(acks) != 0 {
		t.Errorf("ack files left: %v", acks)
	}
}

// TestFull: Append refuses a record that would pass MaxBytes, and takes
// records again once a sealed segment is acknowledged and deleted.
func TestFull(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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

// TestDamagedReadInPlace: a segment with a hole is read where it is,
// without copying (so that a full disk cannot keep Open from starting),
// every intact record of it is read, and the file is set aside only once
// they are all acknowledged.
func TestDamagedReadInPlace(t *testing.T) {
	t.Parallel()
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
	// Another segment after it, so that the hole is not the newest
	// segment's torn tail.
	l, _ = open(t, dir, Options{SegmentBytes: 1 << 20})
	if _, err := l.Append([]byte("four")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, rec := open(t, dir, Options{SegmentBytes: 1 << 20})
	defer l.Close()
	if rec.Damaged != 1 || rec.Records != 5 {
		t.Fatalf("Recovery %+v, want 1 damaged region and 5 records", rec)
	}
	got, refs := ReadAll(t, l)
	if fmt.Sprint(got) != "[one two three one four]" {
		t.Fatalf("read %q, want the 5 intact records", got)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.damaged")); len(m) != 0 {
		t.Fatalf("set aside before its records were acknowledged: %v", m)
	}
	l.Ack(refs[:4])
	if _, err := os.Stat(seg + ".damaged"); err != nil {
		t.Fatalf("the damaged segment, done, was not set aside: %v", err)
	}
	if c := l.Counters(); c.SetAside != 1 {
		t.Errorf("Counters %+v, want SetAside 1", c)
	}
}

// TestFullUnderOneSegment: with MaxBytes below SegmentBytes the spool fills
// inside its active segment; once every record in it is acknowledged the
// space comes back (Room is closed, Append succeeds) instead of the spool
// staying full for good.
func TestFullUnderOneSegment(t *testing.T) {
	t.Parallel()
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

// TestTornHeaderIsNoDamage: a newest segment that holds only the first
// bytes of its header is a segment whose creation a crash cut short (a
// power loss within the sync interval of its creation): Open drops it as
// torn, reports no damage and no lost record, and sets nothing aside.
// Before the fix it counted a damaged region (reported by the client as a
// lost message, FailedSpool) and renamed the file aside as *.damaged.
func TestTornHeaderIsNoDamage(t *testing.T) {
	t.Parallel()
	for n := 1; n < len(magic); n++ {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			dir := t.TempDir()
			l, _ := open(t, dir, Options{Sync: -1})
			for i := range 5 {
				if _, err := l.Append(fmt.Appendf(nil, "record-%d", i)); err != nil {
					t.Fatal(err)
				}
			}
			l.Close()
			if err := os.WriteFile(filepath.Join(dir, "0000000002.seg"), []byte(magic[:n]), 0o600); err != nil {
				t.Fatal(err)
			}
			l, rec := open(t, dir, Options{Sync: -1})
			defer l.Close()
			if rec.Damaged != 0 || rec.Records != 5 {
				t.Errorf("Recovery %+v, want 5 records and no damage", rec)
			}
			got, _ := ReadAll(t, l)
			if len(got) != 5 {
				t.Errorf("read %d records, want 5", len(got))
			}
			if m, _ := filepath.Glob(filepath.Join(dir, "*.damaged")); len(m) != 0 {
				t.Errorf("set aside: %v, want nothing", m)
			}
			if _, err := os.Stat(filepath.Join(dir, "0000000002.seg")); !os.IsNotExist(err) {
				t.Errorf("the torn segment is still there: %v", err)
			}
			sum, err := Inspect(dir, nil, nil)
			if err != nil || len(sum.Damaged) != 0 || sum.Records != 5 {
				t.Errorf("Inspect: %+v, %v; want 5 records and no damage", sum, err)
			}
		})
	}
}
