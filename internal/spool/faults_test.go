package spool_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cdpkit/analytics-go/internal/spool"
	"github.com/cdpkit/analytics-go/internal/spool/faultfs"
)

// The log under injected faults (faultfs): what each fault may cost, and
// that it costs nothing once it clears.

func openFS(t *testing.T, fsys spool.FS, opt spool.Options) (*spool.Log, spool.Recovery) {
	t.Helper()
	opt.FS = fsys
	if opt.MaxBytes == 0 {
		opt.MaxBytes = 1 << 20
	}
	if opt.SegmentBytes == 0 {
		opt.SegmentBytes = 4 << 10
	}
	l, rec, err := spool.Open("/s", opt)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l, rec
}

func appendN(t *testing.T, l *spool.Log, n int, prefix string) []spool.Ref {
	t.Helper()
	var refs []spool.Ref
	for i := range n {
		ref, err := l.Append(fmt.Appendf(nil, "%s-%04d-%0100d", prefix, i, 0))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		refs = append(refs, ref)
	}
	return refs
}

// TestActiveSegmentDeletedWhenDone: the segment being appended to is
// deleted as soon as every record in it is acknowledged, whatever its
// size, and the next Append begins a new one.
func TestActiveSegmentDeletedWhenDone(t *testing.T) {
	t.Parallel()
	fsys := faultfs.New(1)
	l, _ := openFS(t, fsys, spool.Options{Sync: -1, SegmentBytes: 1 << 20})
	refs := appendN(t, l, 10, "a")
	room := l.Room()
	l.Ack(refs)
	if n := fsys.Used("/s", "*.seg"); n != 0 {
		t.Fatalf("%d bytes of segments left after every record was acknowledged", n)
	}
	select {
	case <-room:
	default:
		t.Fatal("Room not signalled")
	}
	if b := l.Bytes(); b != 0 {
		t.Errorf("Bytes %d, want 0", b)
	}
	appendN(t, l, 1, "b")
	if n := fsys.Used("/s", "0000000002.seg"); n == 0 {
		t.Error("the next Append did not begin a new segment")
	}
}

// TestOpenOnFullDisk: Open on a disk with not a byte free starts and reads
// everything; Append fails with the disk's error until acknowledgements
// free space, and then succeeds.
func TestOpenOnFullDisk(t *testing.T) {
	t.Parallel()
	fsys := faultfs.New(2)
	l, _ := openFS(t, fsys, spool.Options{Sync: 0})
	appendN(t, l, 30, "a")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	fsys.SetCapacity(fsys.Total())
	l, rec := openFS(t, fsys, spool.Options{Sync: 0})
	if rec.Records != 30 {
		t.Fatalf("Recovery %+v, want 30 records", rec)
	}
	if _, err := l.Append([]byte("x")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append on a full disk: %v, want ENOSPC", err)
	}
	got, refs := spool.ReadAll(t, l)
	if len(got) != 30 {
		t.Fatalf("read %d records, want 30", len(got))
	}
	l.Ack(refs)
	if _, err := l.Append([]byte("x")); err != nil {
		t.Fatalf("Append once the delivered segments were deleted: %v", err)
	}
}

// TestAcksKeptWhileDiskFull: acknowledgements that the full disk refuses
// are kept, counted, and written once there is room, so that a restart
// then sends none of those records again.
func TestAcksKeptWhileDiskFull(t *testing.T) {
	t.Parallel()
	fsys := faultfs.New(3)
	l, _ := openFS(t, fsys, spool.Options{Sync: -1, SegmentBytes: 1 << 20})
	refs := appendN(t, l, 40, "a")
	fsys.SetCapacity(fsys.Total())
	l.Ack(refs[:10])
	if c := l.Counters(); c.UnwrittenAcks != 10 {
		t.Fatalf("Counters %+v, want 10 unwritten acknowledgements", c)
	}
	fsys.SetCapacity(0)
	l.Ack(refs[10:20])
	if c := l.Counters(); c.UnwrittenAcks != 0 {
		t.Fatalf("Counters %+v, want every acknowledgement written once the disk has room", c)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, rec := openFS(t, fsys, spool.Options{Sync: -1, SegmentBytes: 1 << 20})
	if rec.Records != 20 {
		t.Fatalf("after a restart %d records are left, want the 20 not acknowledged", rec.Records)
	}
	_ = l
}

// TestReaderCountsDamageWhileRunning: bytes overwritten in a segment after
// Open (here after Append) make the Reader skip to the next intact record
// and report exactly how many records it lost, once; the segment is set
// aside once the rest is acknowledged.
func TestReaderCountsDamageWhileRunning(t *testing.T) {
	t.Parallel()
	fsys := faultfs.New(4)
	l, _ := openFS(t, fsys, spool.Options{Sync: -1, SegmentBytes: 1 << 20})
	appendN(t, l, 50, "a")
	// Overwrite 3 whole records and parts of 2 more: records are 8 + 107
	// bytes, from offset 8.
	f, err := fsys.OpenFile("/s/0000000001.seg", 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 4*115)
	for i := range junk {
		junk[i] = 0xa5
	}
	if _, err := f.WriteAt(junk, 8+10*115+50); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r := l.NewReader()
	var refs []spool.Ref
	lost := 0
	for {
		rec, ok := r.Next()
		if !ok {
			break
		}
		if rec.Lost > 0 {
			if rec.Kept {
				t.Fatal("damage reported as an I/O error")
			}
			lost += rec.Lost
			continue
		}
		refs = append(refs, rec.Ref)
	}
	if lost != 5 || len(refs) != 45 {
		t.Fatalf("lost %d, read %d; want 5 and 45", lost, len(refs))
	}
	l.Ack(refs)
	if n := fsys.Used("/s", "*.seg.damaged"); n == 0 {
		t.Error("the damaged segment was not set aside once done")
	}
	if c := l.Counters(); c.Damaged != 1 || c.SetAside != 1 {
		t.Errorf("Counters %+v, want 1 damaged region and 1 segment set aside", c)
	}
}

// TestReaderKeepsWhatItCannotRead: records the file system fails to read
// (an I/O error on every try) are reported as Kept, not counted done, and
// read by the next Open once the disk reads again.
func TestReaderKeepsWhatItCannotRead(t *testing.T) {
	t.Parallel()
	fsys := faultfs.New(5)
	l, _ := openFS(t, fsys, spool.Options{Sync: -1, SegmentBytes: 1 << 20})
	appendN(t, l, 20, "a")
	fsys.SetFault(func(op faultfs.Op, path string) error {
		if op == faultfs.OpRead {
			return faultfs.ErrIO
		}
		return nil
	})
	rec, ok := l.NewReader().Next()
	if !ok || rec.Lost != 20 || !rec.Kept {
		t.Fatalf("Next with reads failing: %+v %v, want 20 records kept", rec, ok)
	}
	fsys.SetFault(nil)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, _ = openFS(t, fsys, spool.Options{Sync: -1, SegmentBytes: 1 << 20})
	if got, _ := spool.ReadAll(t, l); len(got) != 20 {
		t.Fatalf("the next Open read %d records, want the 20 kept", len(got))
	}
}

// TestFailedWriteLeavesNoRecord: a write that fails part way (a short
// write) leaves no record: Append returns the error, the next record
// follows the last complete one, and a restart reads exactly the records
// Append accepted.
func TestFailedWriteLeavesNoRecord(t *testing.T) {
	t.Parallel()
	fsys := faultfs.New(6)
	l, _ := openFS(t, fsys, spool.Options{Sync: 0, SegmentBytes: 1 << 20})
	var want []string
	for i := range 200 {
		if i%7 == 3 {
			fsys.SetFault(func(op faultfs.Op, path string) error {
				if op == faultfs.OpWrite || op == faultfs.OpSync {
					return faultfs.ErrIO
				}
				return nil
			})
		}
		p := fmt.Sprintf("r-%04d", i)
		_, err := l.Append([]byte(p))
		fsys.SetFault(nil)
		if err == nil {
			want = append(want, p)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, rec := openFS(t, fsys, spool.Options{Sync: 0, SegmentBytes: 1 << 20})
	got, _ := spool.ReadAll(t, l)
	if fmt.Sprint(got) != fmt.Sprint(want) || rec.Torn != 0 || rec.Damaged != 0 {
		t.Fatalf("after failed writes read %d records (recovery %+v), want the %d accepted", len(got), rec, len(want))
	}
}

// TestInspect: Inspect reads a spool that a Log holds, without its lock,
// and counts its records and segments.
func TestInspect(t *testing.T) {
	t.Parallel()
	fsys := faultfs.New(7)
	l, _ := openFS(t, fsys, spool.Options{Sync: -1, SegmentBytes: 2 << 10})
	refs := appendN(t, l, 50, "a")
	l.Ack(refs[:5])
	var n int
	sum, err := spool.Inspect("/s", fsys, func([]byte) { n++ })
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != 45 || n != 45 || len(sum.Segments) < 3 {
		t.Fatalf("Inspect: %d records (%d payloads) in %d segments, want 45 in several", sum.Records, n, len(sum.Segments))
	}
	if _, err := spool.Inspect(filepath.Join("/s", "missing"), fsys, nil); err == nil {
		t.Error("Inspect of a directory that does not exist returned no error")
	}
}

// TestPowerLossChargesNoMore: what a restart after a power loss charges
// against MaxBytes is at most what was charged before it, so that a
// spool at its cap is still within it after the power loss, however its
// ack files (never fsynced while running) fared. Before the fix Open
// charged a recovered segment for its ack file as found, not fsynced, so
// a later power loss could take entries of k records (8+4k bytes) back
// to k records that each need room for an entry of their own (12 bytes),
// and it charged a torn entry's bytes on top of the room of the records
// in it, which the next entry overwrites: the model test found a spool 48
// bytes over its cap after a kill -9 and then a power loss.
func TestPowerLossChargesNoMore(t *testing.T) {
	t.Parallel()
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			fsys := faultfs.New(seed)
			opt := spool.Options{Sync: 0, SegmentBytes: 1 << 20}
			// A process appends 10 records, records the delivery of 5 in
			// one entry, and is killed: the entry is written, not fsynced.
			l1, _ := openFS(t, fsys.Mount(), opt)
			refs := appendN(t, l1, 10, "a")
			l1.Ack(refs[:5])
			fsys.Kill()
			// The next one finds 5 left, records the delivery of 2 more,
			// and the machine loses power.
			l2, rec := openFS(t, fsys.Mount(), opt)
			if rec.Records != 5 {
				t.Fatalf("Open after a kill: %d records, want 5", rec.Records)
			}
			before := l2.Bytes()
			l2.Ack(refs[5:7])
			fsys.Crash()
			l3, rec := openFS(t, fsys.Mount(), opt)
			if after := l3.Bytes(); after > before {
				t.Errorf("after a power loss Open charges %d bytes, %d more than before it (%d records found)", after, after-before, rec.Records)
			}
		})
	}
}

// deletingFS is an FS on which the Log that owns the directory deletes
// the first segment file right after Inspect lists it, as a client
// delivering its last records does while cdp spool looks.
type deletingFS struct {
	spool.FS
	l    *spool.Log
	refs []spool.Ref
	done bool
}

func (d *deletingFS) OpenFile(name string, flag int, perm os.FileMode) (spool.File, error) {
	if !d.done && strings.HasSuffix(name, ".seg") {
		d.done = true
		d.l.Ack(d.refs)
	}
	return d.FS.OpenFile(name, flag, perm)
}

// TestInspectWhileSegmentsGo: a segment that the owner of the directory
// deletes (every record in it delivered) while Inspect reads is gone, not
// unreadable. Before the fix Inspect listed it as unreadable, so cdp
// spool said "the disk failed to read it" and exited 1 for a healthy
// spool.
func TestInspectWhileSegmentsGo(t *testing.T) {
	t.Parallel()
	fsys := faultfs.New(7)
	l, _ := openFS(t, fsys, spool.Options{Sync: -1, SegmentBytes: 2 << 10})
	refs := appendN(t, l, 50, "a")
	first := 0
	for first < len(refs) && refs[first].Seg == refs[0].Seg {
		first++
	}
	sum, err := spool.Inspect("/s", &deletingFS{FS: fsys, l: l, refs: refs[:first]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Unreadable) != 0 || sum.Records != 50-first {
		t.Errorf("Inspect while the first segment was deleted: %d records, unreadable %v; want %d, none", sum.Records, sum.Unreadable, 50-first)
	}
}
