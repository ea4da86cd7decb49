// Package spool is an append-only log of records on disk, cut into segment
// files, for the analytics client's durable spool (WithSpool).
//
// # Why a log of our own
//
// The spool's needs are narrow: append a record and have it reach the
// operating system before Enqueue returns; read records back in order;
// forget records once delivered, and give the disk space back. A segment
// log does exactly that in a few hundred lines of standard library, with
// no dependency and no cgo. The alternatives do more and fit worse:
// SQLite needs cgo; bbolt never shrinks its file and keeps fsync in the
// caller's hands per transaction (a transaction per Enqueue is far too
// slow, batching them breaks "written before Enqueue returns"); tidwall/wal
// truncates only from the front, by index, while our records are delivered
// out of order by concurrent senders.
//
// # Files
//
// The directory holds LOCK, locked (flock(2)) by the one Log that owns the
// directory, and segments named by a sequence number, 0000000001.seg,
// 0000000002.seg, … Each segment starts with an 8-byte magic and holds
// records:
//
//	length  uint32, little endian: the payload's size
//	crc     uint32: CRC-32C (Castagnoli) of the length bytes and the payload
//	payload
//
// Beside a segment, 0000000001.ack lists the records of that segment that
// were acknowledged (delivered, or refused for good), as entries of
// count uint32, crc uint32 (CRC-32C of the offsets), and count record
// offsets uint32. A lost or torn ack entry only means a record is sent
// again after a restart, so ack files are not fsynced while running; Open
// fsyncs those it finds, with the segments, so that a later power loss
// cannot take back entries that its charge against MaxBytes counts on
// (see Space).
//
// # Space
//
// A segment and its ack file are deleted as soon as every record in the
// segment is acknowledged, the segment being appended to included: the
// next Append begins a new one. So space comes back with every delivery
// that completes a segment, whatever its size, and a segment full of
// delivered records is never kept. MaxBytes caps the segment files together
// with room reserved for their ack files (ackRoom bytes a record), so the
// files never exceed it, however the acknowledgements come.
//
// An acknowledgement that cannot be written (the disk is full) is kept in
// memory and written with the next one, or at Close; until then a crash
// would send its record again. A file that cannot be deleted is retried on
// later calls and counted against MaxBytes until it is gone.
//
// # Recovery
//
// Open scans every segment and creates nothing: on a full disk it opens a
// spool it can drain. A bad record (a length out of range or a checksum
// that does not match) at the end of the newest segment is the torn tail of
// a write cut short by a crash: it is dropped, counted, and the file
// truncated. Damage anywhere else (a flipped bit, a hole) is a region
// skipped by searching forward for the next valid record; its segment is
// read in place, and renamed aside to <name>.damaged once its intact
// records are all acknowledged. A Reader that meets damage written since
// Open does the same, and reports how many records it lost (see Record).
// Appends always go to a segment created after Open, so no file found by
// Open is written again.
package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Errors of Open and Append.
var (
	// ErrFull is returned by Append when the record would take the spool
	// over Options.MaxBytes.
	ErrFull = errors.New("spool: full")
	// ErrClosed is returned by Append after Close.
	ErrClosed = errors.New("spool: closed")
	// ErrLocked is returned by Open when another Log holds the directory.
	ErrLocked = errors.New("spool: directory in use by another client")
)

const (
	magic       = "CDPSPL\x00\x01"
	segHeader   = int64(len(magic))
	recHeader   = 8
	maxPayload  = 1 << 20
	lockName    = "LOCK"
	segExt      = ".seg"
	ackExt      = ".ack"
	damagedExt  = ".damaged"
	segNameSize = 10

	// ackEntryHeader is the size of an ack entry without its offsets.
	ackEntryHeader = 8
	// ackRoom is what a record reserves of MaxBytes for its ack file: an
	// entry of its own at most (a header and its offset).
	ackRoom = ackEntryHeader + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options configure a Log.
type Options struct {
	// MaxBytes caps the segment files and the room reserved for their
	// ack files.
	MaxBytes int64
	// SegmentBytes is the size at which the active segment is sealed and
	// a new one begun.
	SegmentBytes int64
	// Sync is how often written records are fsynced: 0 after every
	// Append, before it returns; a positive d within d of the write;
	// negative never (the operating system writes back on its own).
	Sync time.Duration
	// Logger receives what recovery found and the I/O errors that are not
	// returned; nil discards it.
	Logger *slog.Logger
	// FS is where the files are; nil is the operating system's.
	FS FS
}

// Recovery is what Open found in the directory.
type Recovery struct {
	// Records counts intact records not yet acknowledged: a Reader reads
	// them first.
	Records int
	// Torn counts records dropped from the torn tail of the newest
	// segment.
	Torn int
	// Damaged counts damaged regions skipped in other segments; each is at
	// least one record lost.
	Damaged int
	// Unreadable counts segment files Open could not read (an I/O error):
	// they are left as they are for the next Open, and not read now.
	Unreadable int
}

// Ref names one record: its segment and its offset in it.
type Ref struct {
	Seg uint32
	Off uint32
}

// hole is a damaged region of a segment, [from, to): a reader skips it.
type hole struct{ from, to int64 }

type segment struct {
	seq      uint32
	f        File
	size     int64 // bytes of the header and complete records
	fileSize int64 // the file's size: above size after a write that failed part way
	records  int   // intact records in it
	done     int   // of which acknowledged (in any run) or lost to damage
	skip     []uint32
	holes    []hole
	damaged  bool // it has holes: it is set aside, not deleted, once done
	sealed   bool // no longer appended to
	dirty    bool // written since its last fsync
	ack      ackFile
	ackRoom  int64 // bytes of MaxBytes charged for its ack file
}

// ackFile is a segment's ack file.
type ackFile struct {
	f       File
	size    int64    // bytes of the complete entries: where the next is written
	pending []uint32 // offsets acknowledged but not yet written
}

// charge is what s counts against MaxBytes.
func (s *segment) charge() int64 { return s.fileSize + s.ackRoom }

// zombie is a file whose removal failed: it still takes bytes of MaxBytes
// until a later try removes it.
type zombie struct {
	path  string
	bytes int64
}

// Log is a segment log in one directory. Its methods are safe for
// concurrent use.
type Log struct {
	dir  string
	opt  Options
	fs   FS
	lock io.Closer
	log  *slog.Logger

	// mu guards everything below it, and the files' writes. It is held
	// across the write(2) of Append and of an acknowledgement (that is
	// what orders the log), and across an fsync only with Sync 0; never
	// across the syncer's fsyncs or a Reader's reads.
	mu       sync.Mutex
	segs     []*segment // oldest first
	active   *segment   // appended to; nil before the first Append, and after it was deleted
	nextSeq  uint32     // the number of the next segment created
	bytes    int64      // charged against MaxBytes: segments (charge) and zombies
	room     chan struct{}
	closed   bool
	dirDirty bool // names created or removed since the last fsync of the directory
	pending  int  // acknowledgements not yet written, over all segments
	// unsyncedFree is bytes of files deleted or cut, still charged until
	// an fsync of the directory makes that last (freeLocked).
	unsyncedFree int64
	zombies      []zombie
	// published is the end of the records Readers may read (Publish),
	// and pubRecords the records of segment published.seg before it.
	published  Position
	pubRecords int
	damaged    int64 // damaged regions found by Readers since Open
	setAside   int64 // damaged segments renamed aside since Open

	syncs    atomic.Int64
	syncWake chan struct{}
	stop     chan struct{}
	stopped  chan struct{}
}

// Open locks dir (creating it if need be) and recovers what it holds. It
// creates no segment: the first Append does.
func Open(dir string, opt Options) (*Log, Recovery, error) {
	var rec Recovery
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.FS == nil {
		opt.FS = OS
	}
	fsys := opt.FS
	if err := fsys.MkdirAll(dir, 0o700); err != nil {
		return nil, rec, fmt.Errorf("spool: %w", err)
	}
	lock, err := fsys.Lock(join(dir, lockName))
	if errors.Is(err, ErrLocked) {
		return nil, rec, fmt.Errorf("%w: %s", err, dir)
	}
	if err != nil {
		return nil, rec, fmt.Errorf("spool: %w", err)
	}
	l := &Log{dir: dir, opt: opt, fs: fsys, lock: lock, log: opt.Logger, room: make(chan struct{}),
		syncWake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	if err := l.recover(&rec); err != nil {
		l.closeFiles()
		return nil, rec, err
	}
	if opt.Sync > 0 {
		go l.syncer()
	} else {
		close(l.stopped)
	}
	return l, rec, nil
}

func (l *Log) path(seq uint32, ext string) string {
	return join(l.dir, fmt.Sprintf("%0*d%s", segNameSize, seq, ext))
}

// Append writes payload as one record, publishes it (see Publish) and
// returns where it is. The record has reached the operating system
// (write(2) returned) when Append returns nil, and with Options.Sync 0 it
// has been fsynced. On an error the record is not in the log.
func (l *Log) Append(payload []byte) (Ref, error) {
	var b Batch
	b.Begin()
	b.Buf = append(b.Buf, payload...)
	if err := b.End(); err != nil {
		return Ref{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ref, n, err := l.appendLocked(&b)
	if n == 1 {
		l.publishLocked()
	}
	return ref, err
}

// Batch is records appended together by AppendBatch: framed in one buffer,
// so that they reach the file in one write(2). It is not safe for
// concurrent use.
type Batch struct {
	// Buf holds the framed records. Between Begin and End the caller
	// appends the payload of the next record to it.
	Buf   []byte
	ends  []int // where each record ends in Buf
	start int   // where the record being added begins
}

// Begin starts the next record: its payload is what the caller appends to
// b.Buf before End.
func (b *Batch) Begin() {
	b.start = len(b.Buf)
	b.Buf = append(b.Buf, make([]byte, recHeader)...)
}

// End frames the record begun by Begin. A payload that is empty or larger
// than a record can be is an error, and is dropped from b.
func (b *Batch) End() error {
	n := len(b.Buf) - b.start - recHeader
	if n <= 0 || n > maxPayload {
		b.Buf = b.Buf[:b.start]
		return fmt.Errorf("spool: record of %d bytes", max(n, 0))
	}
	h := b.Buf[b.start : b.start+recHeader]
	binary.LittleEndian.PutUint32(h, uint32(n))
	sum := crc32.Update(crc32.Checksum(h[:4], castagnoli), castagnoli, b.Buf[b.start+recHeader:])
	binary.LittleEndian.PutUint32(h[4:], sum)
	b.ends = append(b.ends, len(b.Buf))
	return nil
}

// Len returns the number of records in b.
func (b *Batch) Len() int { return len(b.ends) }

// Reset empties b, keeping its memory.
func (b *Batch) Reset() { b.Buf, b.ends = b.Buf[:0], b.ends[:0] }

// bounds returns where record i begins and ends in b.Buf.
func (b *Batch) bounds(i int) (int, int) {
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	return start, b.ends[i]
}

// AppendBatch writes the records of b, in order, with one write(2) per
// segment they fill (one, as a rule), and with Options.Sync 0 one fsync.
// It returns how many of them, from the first, are now in the log; the
// rest are not, because of err: ErrFull when the next would take the spool
// over MaxBytes, or the error of the write. The records are not seen by a
// Reader until Publish.
func (l *Log) AppendBatch(b *Batch) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, n, err := l.appendLocked(b)
	return n, err
}

// appendLocked is AppendBatch; it also returns where the first record is.
func (l *Log) appendLocked(b *Batch) (first Ref, n int, err error) {
	if l.closed {
		return Ref{}, 0, ErrClosed
	}
	if l.pending > 0 || len(l.zombies) > 0 {
		l.retryLocked()
	}
	if s := l.active; s != nil && s.fileSize > s.size {
		// A failed write left part of a record that could not be cut
		// off: no record may follow it until it is.
		l.cutLocked(s)
		if s.fileSize > s.size {
			return Ref{}, 0, fmt.Errorf("spool: cannot cut off a record a failed write left: %s", l.path(s.seq, segExt))
		}
	}
	for n < b.Len() {
		from, end := b.bounds(n)
		need := int64(end - from)
		s := l.active
		rotate := s == nil || (s.size+need > l.opt.SegmentBytes && s.records > 0)
		charge := need + ackRoom
		if rotate {
			charge += segHeader
		}
		if l.bytes+charge > l.opt.MaxBytes {
			return first, n, ErrFull
		}
		if rotate {
			if s, err = l.rotateLocked(); err != nil {
				return first, n, err
			}
		}
		// The run: the records that fit in this segment and the cap.
		j, size := n+1, need
		for j < b.Len() {
			f, e := b.bounds(j)
			next := int64(e - f)
			if s.size+size+next > l.opt.SegmentBytes || l.bytes+size+next+int64(j-n+1)*ackRoom > l.opt.MaxBytes {
				break
			}
			size += next
			j++
		}
		// A failed write may have written part of the run, whatever
		// count it returns: the file is charged as if all had been.
		_, err = s.f.WriteAt(b.Buf[from:from+int(size)], s.size)
		l.grewLocked(s, s.size+size)
		if err == nil && l.opt.Sync == 0 {
			err = l.syncAppendLocked(s)
		}
		if err != nil {
			// Cut off whatever part of the run was written, so that the
			// next record follows the last complete one (where it is
			// written in any case) and the file takes no more than its
			// records.
			l.cutLocked(s)
			return first, n, fmt.Errorf("spool: write: %w", err)
		}
		if n == 0 {
			first = Ref{Seg: s.seq, Off: uint32(s.size)}
		}
		s.size += size
		s.records += j - n
		s.ackRoom += int64(j-n) * ackRoom
		l.bytes += int64(j-n) * ackRoom
		if l.opt.Sync > 0 {
			s.dirty = true
			l.wakeSyncer()
		}
		n = j
	}
	return first, n, nil
}

// Publish makes the records appended so far visible to Readers, and
// Published's position the end of them. The caller publishes records
// once it has done what must come before anyone reads them (the client
// numbers them).
func (l *Log) Publish() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.publishLocked()
}

func (l *Log) publishLocked() {
	if s := l.active; s != nil {
		l.published, l.pubRecords = Position{s.seq, s.size}, s.records
	} else {
		l.published, l.pubRecords = Position{l.nextSeq, segHeader}, 0
	}
}

// Published returns the position after the last published record: every
// record published later is at or after it.
func (l *Log) Published() Position {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.published
}

// syncAppendLocked fsyncs s, and the directory if a name changed, for
// Sync 0.
func (l *Log) syncAppendLocked(s *segment) error {
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("fsync: %w", err)
	}
	if l.dirDirty {
		if err := l.fs.SyncDir(l.dir); err != nil {
			return fmt.Errorf("fsync of the directory: %w", err)
		}
		l.dirDirty = false
		l.releaseFreeLocked(l.unsyncedFree)
	}
	l.syncs.Add(1)
	return nil
}

// grewLocked records that s's file reaches at least end.
func (l *Log) grewLocked(s *segment, end int64) {
	if end > s.fileSize {
		l.bytes += end - s.fileSize
		s.fileSize = end
	}
}

// cutLocked truncates s's file to its complete records, after a write
// that may have left more.
func (l *Log) cutLocked(s *segment) {
	if err := s.f.Truncate(s.size); err != nil {
		return // it stays charged; Append tries again first
	}
	l.freeLocked(s.fileSize - s.size)
	s.fileSize = s.size
	s.dirty = true
}

// rotateLocked begins a new active segment, sealing the old one.
func (l *Log) rotateLocked() (*segment, error) {
	seq := l.nextSeq
	path := l.path(seq, segExt)
	f, err := l.fs.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	l.nextSeq++ // even if what follows fails: a name is never used twice
	l.dirDirty = true
	if _, err := f.WriteAt([]byte(magic), 0); err != nil {
		f.Close()
		if !l.removeLocked(path, segHeader) {
			l.bytes += segHeader // what the write may have left, until it is gone
		}
		return nil, fmt.Errorf("spool: %w", err)
	}
	if old := l.active; old != nil {
		old.sealed = true
		if old.done >= old.records {
			l.finishLocked(old)
		}
	}
	s := &segment{seq: seq, f: f, size: segHeader, fileSize: segHeader, dirty: true}
	l.segs = append(l.segs, s)
	l.active = s
	l.bytes += segHeader
	return s, nil
}

// Ack records that refs were delivered or refused for good, and deletes
// every segment whose records are then all acknowledged. Each ref must be
// acknowledged once.
func (l *Log) Ack(refs []Ref) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	for len(refs) > 0 {
		n := 1
		for n < len(refs) && refs[n].Seg == refs[0].Seg {
			n++
		}
		if s := l.segLocked(refs[0].Seg); s != nil {
			s.done += n
			if s.done >= s.records {
				l.finishLocked(s)
			} else {
				for _, r := range refs[:n] {
					s.ack.pending = append(s.ack.pending, r.Off)
				}
				l.pending += n
			}
		}
		refs = refs[n:]
	}
	l.retryLocked()
}

// forfeitLocked records that n records of s were lost to damage: they
// will never be acknowledged.
func (l *Log) forfeitLocked(s *segment, n int) {
	s.done += n
	if s.done >= s.records {
		l.finishLocked(s)
	}
}

// retryLocked writes the acknowledgements not yet written and removes the
// files not yet removed.
func (l *Log) retryLocked() {
	if l.pending > 0 {
		for _, s := range l.segs {
			if len(s.ack.pending) > 0 {
				l.writeAcksLocked(s)
			}
		}
	}
	if len(l.zombies) > 0 {
		left := l.zombies[:0]
		for _, z := range l.zombies {
			if err := l.fs.Remove(z.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				left = append(left, z)
				continue
			}
			l.freeLocked(z.bytes)
		}
		clear(l.zombies[len(left):])
		l.zombies = left
	}
}

// writeAcksLocked appends s's pending acknowledgements to its ack file as
// one entry. A failed write is retried later at the same offset, so that
// a torn entry is overwritten rather than followed.
func (l *Log) writeAcksLocked(s *segment) {
	a := &s.ack
	if a.f == nil {
		f, err := l.fs.OpenFile(l.path(s.seq, ackExt), os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			l.log.Warn("analytics: spool: cannot record deliveries yet; retrying with the next ones", "error", err)
			return
		}
		a.f = f
		l.dirDirty = true
	}
	b := make([]byte, ackEntryHeader, ackEntryHeader+4*len(a.pending))
	for _, off := range a.pending {
		b = binary.LittleEndian.AppendUint32(b, off)
	}
	binary.LittleEndian.PutUint32(b, uint32(len(a.pending)))
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(b[ackEntryHeader:], castagnoli))
	if _, err := a.f.WriteAt(b, a.size); err != nil {
		l.log.Warn("analytics: spool: cannot record deliveries yet; retrying with the next ones", "error", err)
		return
	}
	a.size += int64(len(b))
	l.pending -= len(a.pending)
	a.pending = a.pending[:0]
}

// finishLocked deletes s, every record of which is done, with its ack
// file; a damaged segment is renamed aside instead. The space of what is
// gone is freed (freeLocked); a file it cannot remove stays charged.
func (l *Log) finishLocked(s *segment) {
	l.pending -= len(s.ack.pending)
	if s.f != nil {
		s.f.Close()
	}
	if s.ack.f != nil {
		s.ack.f.Close()
	}
	var freed int64
	segPath := l.path(s.seq, segExt)
	switch {
	case !s.damaged:
		// The segment first: a crash in between leaves only an ack file,
		// which Open removes.
		if l.removeLocked(segPath, s.fileSize) {
			freed += s.fileSize
		}
	case l.fs.Rename(segPath, segPath+damagedExt) == nil:
		l.setAside++
		freed += s.fileSize // set aside files are outside MaxBytes
		l.log.Warn("analytics: spool: damaged segment set aside; its intact records are done", "file", segPath+damagedExt)
	default:
		l.log.Warn("analytics: spool: cannot set a damaged segment aside; removing it", "file", segPath)
		if l.removeLocked(segPath, s.fileSize) {
			freed += s.fileSize
		}
	}
	if l.removeLocked(l.path(s.seq, ackExt), s.ackRoom) {
		freed += s.ackRoom
	}
	l.segs = slices.DeleteFunc(l.segs, func(x *segment) bool { return x == s })
	if l.active == s {
		l.active = nil
	}
	l.freeLocked(freed)
}

// freeLocked gives n bytes of MaxBytes back once their files are gone for
// good: after the next fsync of the directory (at once with Sync 0; within
// Sync otherwise), so that a power loss that brings a deleted file back
// cannot take the files over MaxBytes. With a negative Sync, at once.
func (l *Log) freeLocked(n int64) {
	switch {
	case l.opt.Sync < 0:
		l.bytes -= n
		l.signalRoomLocked()
		return
	case l.opt.Sync == 0:
		l.unsyncedFree += n
		l.dirDirty = true
		if err := l.fs.SyncDir(l.dir); err != nil {
			l.log.Warn("analytics: spool: fsync of the directory failed; the space is given back after the next", "error", err)
			return
		}
		l.dirDirty = false
		l.releaseFreeLocked(l.unsyncedFree)
	default:
		l.unsyncedFree += n
		l.dirDirty = true
		l.wakeSyncer()
	}
}

// releaseFreeLocked gives back n bytes freed before an fsync of the
// directory that succeeded.
func (l *Log) releaseFreeLocked(n int64) {
	if n <= 0 {
		return
	}
	l.bytes -= n
	l.unsyncedFree -= n
	l.signalRoomLocked()
}

// removeLocked removes path and reports whether it is gone. If not, it
// keeps trying on later calls; its bytes, which the caller leaves charged,
// are freed once it is gone.
func (l *Log) removeLocked(path string, bytes int64) bool {
	err := l.fs.Remove(path)
	if err == nil || errors.Is(err, os.ErrNotExist) {
		l.dirDirty = true
		return true
	}
	l.log.Warn("analytics: spool: cannot delete a file; retrying later", "file", path, "error", err)
	l.zombies = append(l.zombies, zombie{path, bytes})
	return false
}

func (l *Log) signalRoomLocked() {
	close(l.room)
	l.room = make(chan struct{})
}

func (l *Log) segLocked(seq uint32) *segment {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].seq >= seq })
	if i < len(l.segs) && l.segs[i].seq == seq {
		return l.segs[i]
	}
	return nil
}

func (l *Log) wakeSyncer() {
	select {
	case l.syncWake <- struct{}{}:
	default:
	}
}

// syncer is the goroutine, run with a positive Options.Sync, that fsyncs
// the segments written to (and the directory, for the names created and
// removed) within Options.Sync of the first write not yet synced, and
// retries the acknowledgements and removals that failed. It stops at
// Close.
func (l *Log) syncer() {
	defer close(l.stopped)
	t := time.NewTimer(l.opt.Sync)
	t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-l.syncWake:
		}
		t.Reset(l.opt.Sync)
		select {
		case <-l.stop:
			t.Stop()
			return
		case <-t.C:
		}
		l.syncNow()
	}
}

// syncNow fsyncs what was written so far, outside mu.
func (l *Log) syncNow() {
	l.mu.Lock()
	var files []File
	for _, s := range l.segs {
		if s.dirty {
			s.dirty = false
			files = append(files, s.f)
		}
	}
	if l.pending > 0 || len(l.zombies) > 0 {
		l.retryLocked()
	}
	dir, free := l.dirDirty, l.unsyncedFree
	l.dirDirty = false
	l.mu.Unlock()
	if len(files) == 0 && !dir {
		return
	}
	for _, f := range files {
		if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
			l.log.Error("analytics: spool: fsync failed", "error", err)
		}
	}
	if dir {
		err := l.fs.SyncDir(l.dir)
		l.mu.Lock()
		if err != nil {
			l.log.Error("analytics: spool: fsync of the directory failed", "error", err)
			l.dirDirty = true
			l.wakeSyncer()
		} else {
			l.releaseFreeLocked(free)
		}
		l.mu.Unlock()
	}
	l.syncs.Add(1)
}

// Syncs returns how many times written records were fsynced.
func (l *Log) Syncs() int64 { return l.syncs.Load() }

// Bytes returns what the spool counts against MaxBytes: the segment files
// and the room reserved for their ack files.
func (l *Log) Bytes() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bytes
}

// Counters are what a Log found and did since Open.
type Counters struct {
	// Damaged counts damaged regions Readers met since Open.
	Damaged int64
	// SetAside counts damaged segments renamed aside since Open.
	SetAside int64
	// UnwrittenAcks counts acknowledgements that could not be written
	// yet (the disk is full): a crash now would send their records again.
	UnwrittenAcks int
}

// Counters returns what the Log found and did since Open.
func (l *Log) Counters() Counters {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Counters{Damaged: l.damaged, SetAside: l.setAside, UnwrittenAcks: l.pending}
}

// Room returns a channel closed when space is freed.
func (l *Log) Room() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.room
}

// Close writes the acknowledgements not yet written, fsyncs what was
// written (unless Options.Sync is negative), closes the files and releases
// the directory. Records not acknowledged stay for the next Open.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.stop)
	<-l.stopped
	var errs []error
	l.mu.Lock()
	l.retryLocked()
	if l.opt.Sync >= 0 {
		for _, s := range l.segs {
			if s.dirty {
				if err := s.f.Sync(); err != nil {
					errs = append(errs, fmt.Errorf("spool: fsync: %w", err))
				}
			}
		}
		if l.dirDirty {
			if err := l.fs.SyncDir(l.dir); err != nil {
				errs = append(errs, fmt.Errorf("spool: fsync of the directory: %w", err))
			}
		}
	}
	l.mu.Unlock()
	l.closeFiles()
	return errors.Join(errs...)
}

func (l *Log) closeFiles() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.segs {
		if s.f != nil {
			s.f.Close()
		}
		if s.ack.f != nil {
			s.ack.f.Close()
		}
	}
	l.segs, l.active = nil, nil
	if l.lock != nil {
		l.lock.Close()
		l.lock = nil
	}
}

// validAt returns the payload size of the record at off if it is intact.
func validAt(data []byte, off int64) (int64, bool) {
	if int64(len(data))-off < recHeader {
		return 0, false
	}
	n := int64(binary.LittleEndian.Uint32(data[off:]))
	if n == 0 || n > maxPayload || off+recHeader+n > int64(len(data)) {
		return 0, false
	}
	sum := crc32.Update(crc32.Checksum(data[off:off+4], castagnoli), castagnoli, data[off+recHeader:off+recHeader+n])
	return n, sum == binary.LittleEndian.Uint32(data[off+4:])
}

// resync returns the offset of the first intact record at or after from,
// or -1.
func resync(data []byte, from int64) int64 {
	for p := from; p+recHeader <= int64(len(data)); p++ {
		if _, ok := validAt(data, p); ok {
			return p
		}
	}
	return -1
}
