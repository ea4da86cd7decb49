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
// The directory holds LOCK, held with flock(2) by the one Log that owns the
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
// offsets uint32. A lost or torn ack entry only means a record is sent again
// after a restart, so ack files are never fsynced. A segment and its ack
// file are deleted whole, once every record of the segment is acknowledged
// and the segment is no longer the one being appended to.
//
// # Recovery
//
// Open scans every segment. A bad record (a length out of range or a
// checksum that does not match) at the end of the newest segment is the
// torn tail of a write cut short by a crash: it is dropped, counted, and the
// file truncated. Damage anywhere else (a flipped bit, a hole) is skipped by
// searching forward for the next valid record; the intact records of such a
// segment are copied into the new active segment, and the damaged file is
// renamed aside to <name>.damaged and counted. Appends always go to a new
// segment created by Open, so no old file is written again.
package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors of Append.
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
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options configure a Log.
type Options struct {
	// MaxBytes caps the total size of the segment files.
	MaxBytes int64
	// SegmentBytes is the size at which the active segment is sealed and
	// a new one begun.
	SegmentBytes int64
	// Sync is how often written records are fsynced: 0 after every
	// Append, before it returns; a positive d within d of the write;
	// negative never (the operating system writes back on its own).
	Sync time.Duration
	// Logger receives what recovery found; nil discards it.
	Logger *slog.Logger
}

// Recovery is what Open found in the directory.
type Recovery struct {
	// Records counts intact records not yet acknowledged: they are read
	// back by Next, from Start.
	Records int
	// Torn counts records dropped from the torn tail of the newest
	// segment.
	Torn int
	// Damaged counts damaged regions skipped in other segments (each is
	// at least one record lost).
	Damaged int
	// SetAside counts damaged segments renamed aside.
	SetAside int
}

// Ref names one record: its segment and its offset in it.
type Ref struct {
	Seg uint32
	Off uint32
}

// Cursor is a position for reading the log in order with Next.
type Cursor struct {
	seg uint32
	off int64
}

type segment struct {
	seq     uint32
	f       *os.File // read-write; closed when the segment is deleted
	size    int64    // bytes of the header and complete records
	records int
	acked   int
	skip    []uint32 // sorted offsets acknowledged in an earlier run
	ack     *os.File // opened on the first acknowledgement
	sealed  bool     // no longer appended to
}

// Log is a segment log in one directory. Its methods are safe for
// concurrent use.
type Log struct {
	dir  string
	opt  Options
	lock *os.File
	log  *slog.Logger

	// mu guards the segments, the counters and the files' writes. It is
	// held across the write(2) of Append and Ack (that is what orders the
	// log), never across an fsync of the syncer.
	mu     sync.Mutex
	segs   []*segment // oldest first; the last is active
	bytes  int64
	room   chan struct{} // closed and replaced when bytes fall
	closed bool
	dirty  bool // records written since the last fsync
	buf    []byte
	aside  []uint32 // damaged segments, set aside by begin once copied

	syncs    atomic.Int64
	syncWake chan struct{}
	stop     chan struct{}
	stopped  chan struct{}
}

// Open locks dir (creating it if need be), recovers what it holds, and
// begins a new active segment.
func Open(dir string, opt Options) (*Log, Recovery, error) {
	var rec Recovery
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, rec, fmt.Errorf("spool: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, rec, fmt.Errorf("spool: %w", err)
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		return nil, rec, fmt.Errorf("%w: %s: %v", ErrLocked, dir, err)
	}
	l := &Log{dir: dir, opt: opt, lock: lock, log: opt.Logger, room: make(chan struct{}),
		syncWake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	salvage, err := l.recover(&rec)
	if err == nil {
		err = l.begin(salvage, &rec)
	}
	if err != nil {
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
	return filepath.Join(l.dir, fmt.Sprintf("%0*d%s", segNameSize, seq, ext))
}

// recover scans the existing segments. It returns the intact unacknowledged
// payloads of damaged segments, to be copied into the new active segment.
func (l *Log) recover(rec *Recovery) (salvage [][]byte, err error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	var seqs []uint32
	acks := map[uint32]bool{}
	for _, e := range entries {
		name := e.Name()
		base, ext := strings.TrimSuffix(name, filepath.Ext(name)), filepath.Ext(name)
		n, perr := strconv.ParseUint(base, 10, 32)
		if perr != nil || len(base) != segNameSize || n == 0 {
			continue
		}
		switch ext {
		case segExt:
			seqs = append(seqs, uint32(n))
		case ackExt:
			acks[uint32(n)] = true
		}
	}
	slices.Sort(seqs)
	for seq := range acks {
		if _, found := slices.BinarySearch(seqs, seq); !found {
			_ = os.Remove(l.path(seq, ackExt)) // its segment was deleted
		}
	}
	for i, seq := range seqs {
		last := i == len(seqs)-1
		s, bad, err := l.scan(seq, last, rec)
		if err != nil {
			return nil, err
		}
		if bad != nil {
			// begin copies the intact records, then sets the file aside.
			salvage = append(salvage, bad...)
			l.aside = append(l.aside, seq)
			continue
		}
		if s.acked >= s.records {
			l.remove(s)
			continue
		}
		rec.Records += s.records - s.acked
		l.segs = append(l.segs, s)
		l.bytes += s.size
	}
	rec.Records += len(salvage)
	return salvage, nil
}

// scan reads one segment. For a damaged segment it returns bad, the
// payloads of its intact unacknowledged records, and no segment.
func (l *Log) scan(seq uint32, last bool, rec *Recovery) (s *segment, bad [][]byte, err error) {
	path := l.path(seq, segExt)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("spool: %w", err)
	}
	skip := readAcks(l.path(seq, ackExt))
	var offs []uint32
	damaged := len(data) < int(segHeader) || string(data[:segHeader]) != magic
	off := segHeader
	good := off // end of the last intact record
	for off < int64(len(data)) {
		if n, ok := validAt(data, off); ok {
			offs = append(offs, uint32(off))
			off += recHeader + n
			good = off
			continue
		}
		next := resync(data, off+1)
		if next < 0 {
			if last && !damaged {
				rec.Torn++
				l.log.Warn("analytics: spool: dropped a torn record at the end of the newest segment (a write cut short by a crash)",
					"file", path, "offset", off, "bytes", int64(len(data))-off)
			} else {
				rec.Damaged++
				damaged = true
				l.log.Warn("analytics: spool: damaged record", "file", path, "offset", off)
			}
			break
		}
		rec.Damaged++
		damaged = true
		l.log.Warn("analytics: spool: damaged record skipped", "file", path, "offset", off, "bytes", next-off)
		off = next
	}
	if damaged {
		bad = [][]byte{}
		for _, o := range offs {
			if _, acked := slices.BinarySearch(skip, o); acked {
				continue
			}
			n := int64(binary.LittleEndian.Uint32(data[o:]))
			bad = append(bad, slices.Clone(data[int64(o)+recHeader:int64(o)+recHeader+n]))
		}
		return nil, bad, nil
	}
	if good < int64(len(data)) {
		if err := os.Truncate(path, good); err != nil {
			return nil, nil, fmt.Errorf("spool: truncating a torn segment: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("spool: %w", err)
	}
	s = &segment{seq: seq, f: f, size: good, records: len(offs), sealed: true}
	for _, o := range offs {
		if _, acked := slices.BinarySearch(skip, o); acked {
			s.acked++
			s.skip = append(s.skip, o) // offs ascend, so skip stays sorted
		}
	}
	return s, nil, nil
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

// readAcks returns the sorted record offsets listed in an ack file; a
// damaged or torn entry ends the list.
func readAcks(path string) []uint32 {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var offs []uint32
	for len(data) >= 8 {
		n := int(binary.LittleEndian.Uint32(data))
		if n <= 0 || n > len(data)/4 || 8+4*n > len(data) {
			break
		}
		body := data[8 : 8+4*n]
		if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[4:]) {
			break
		}
		for i := range n {
			offs = append(offs, binary.LittleEndian.Uint32(body[4*i:]))
		}
		data = data[8+4*n:]
	}
	slices.Sort(offs)
	return slices.Compact(offs)
}

// begin creates the active segment, copies the salvaged records into it,
// and then sets the damaged segments aside.
func (l *Log) begin(salvage [][]byte, rec *Recovery) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.rotateLocked(); err != nil {
		return err
	}
	for _, p := range salvage {
		if _, err := l.appendLocked(p); err != nil {
			return fmt.Errorf("spool: copying the intact records of a damaged segment: %w", err)
		}
	}
	if len(l.aside) == 0 {
		return l.syncDir()
	}
	// Only once the copies are written (and synced, unless Sync is
	// negative) are the damaged files set aside: a crash before then
	// leaves them to be salvaged again by the next Open.
	if l.opt.Sync >= 0 {
		if err := l.segs[len(l.segs)-1].f.Sync(); err != nil {
			return fmt.Errorf("spool: fsync: %w", err)
		}
	}
	for _, seq := range l.aside {
		if err := os.Rename(l.path(seq, segExt), l.path(seq, segExt+damagedExt)); err != nil {
			return fmt.Errorf("spool: setting aside a damaged segment: %w", err)
		}
		_ = os.Remove(l.path(seq, ackExt))
		l.log.Warn("analytics: spool: damaged segment set aside; its intact records are sent",
			"file", l.path(seq, segExt+damagedExt))
	}
	rec.SetAside += len(l.aside)
	l.aside = nil
	return l.syncDir()
}

// rotateLocked begins the next segment and seals the active one, if any.
func (l *Log) rotateLocked() error {
	seq := uint32(1)
	var old *segment
	if n := len(l.segs); n > 0 {
		old = l.segs[n-1]
		seq = old.seq + 1
	}
	for _, a := range l.aside {
		seq = max(seq, a+1) // a damaged segment not yet set aside
	}
	if m, err := filepath.Glob(filepath.Join(l.dir, "*"+segExt+damagedExt)); err == nil {
		// Never reuse the number of a segment set aside.
		for _, p := range m {
			base := strings.TrimSuffix(filepath.Base(p), segExt+damagedExt)
			if n, err := strconv.ParseUint(base, 10, 32); err == nil && uint32(n) >= seq {
				seq = uint32(n) + 1
			}
		}
	}
	f, err := os.OpenFile(l.path(seq, segExt), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if _, err := f.Write([]byte(magic)); err != nil {
		f.Close()
		_ = os.Remove(l.path(seq, segExt))
		return fmt.Errorf("spool: %w", err)
	}
	// The old segment is sealed only now, so that a failure above leaves
	// it active rather than no segment at all.
	if old != nil && !old.sealed {
		old.sealed = true
		if l.opt.Sync >= 0 {
			_ = old.f.Sync()
		}
		if old.acked >= old.records {
			l.deleteLocked(old)
		}
	}
	l.segs = append(l.segs, &segment{seq: seq, f: f, size: segHeader})
	l.bytes += segHeader
	if l.opt.Sync == 0 {
		return l.syncDir()
	}
	l.markDirtyLocked()
	return nil
}

func (l *Log) syncDir() error {
	if l.opt.Sync < 0 {
		return nil
	}
	d, err := os.Open(l.dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("spool: fsync of the directory: %w", err)
	}
	return nil
}

// Append writes payload as one record and returns where it is. The
// record has reached the operating system (write(2) returned) when Append
// returns nil, and with Options.Sync 0 it has been fsynced.
func (l *Log) Append(payload []byte) (Ref, error) {
	if len(payload) == 0 || len(payload) > maxPayload {
		return Ref{}, fmt.Errorf("spool: record of %d bytes", len(payload))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return Ref{}, ErrClosed
	}
	return l.appendLocked(payload)
}

func (l *Log) appendLocked(payload []byte) (Ref, error) {
	size := int64(recHeader + len(payload))
	if l.bytes+size > l.opt.MaxBytes {
		return Ref{}, ErrFull
	}
	s := l.segs[len(l.segs)-1]
	if s.size+size > l.opt.SegmentBytes && s.records > 0 {
		if err := l.rotateLocked(); err != nil {
			return Ref{}, err
		}
		s = l.segs[len(l.segs)-1]
	}
	b := l.buf[:0]
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	sum := crc32.Update(crc32.Checksum(b[:4], castagnoli), castagnoli, payload)
	b = binary.LittleEndian.AppendUint32(b, sum)
	b = append(b, payload...)
	l.buf = b
	if _, err := s.f.WriteAt(b, s.size); err != nil {
		// Cut off whatever part of the record was written, so that the
		// next record follows the last complete one.
		_ = s.f.Truncate(s.size)
		return Ref{}, fmt.Errorf("spool: write: %w", err)
	}
	ref := Ref{Seg: s.seq, Off: uint32(s.size)}
	s.size += size
	s.records++
	l.bytes += size
	if l.opt.Sync == 0 {
		if err := s.f.Sync(); err != nil {
			return Ref{}, fmt.Errorf("spool: fsync: %w", err)
		}
		l.syncs.Add(1)
	} else {
		l.markDirtyLocked()
	}
	return ref, nil
}

func (l *Log) markDirtyLocked() {
	if l.opt.Sync <= 0 || l.dirty {
		return
	}
	l.dirty = true
	select {
	case l.syncWake <- struct{}{}:
	default:
	}
}

// syncer is the goroutine, run with a positive Options.Sync, that fsyncs
// the active segment (and the directory, for a new segment's name) within
// Options.Sync of the first write not yet synced. It stops at Close.
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
	if len(l.segs) == 0 || !l.dirty {
		l.mu.Unlock()
		return
	}
	l.dirty = false
	f := l.segs[len(l.segs)-1].f
	l.mu.Unlock()
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
		l.log.Error("analytics: spool: fsync failed", "error", err)
	}
	_ = l.syncDir()
	l.syncs.Add(1)
}

// Syncs returns how many times written records were fsynced.
func (l *Log) Syncs() int64 { return l.syncs.Load() }

// Bytes returns the size of the segment files.
func (l *Log) Bytes() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bytes
}

// Room returns a channel closed when space is freed.
func (l *Log) Room() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.room
}

// Start returns a cursor at the oldest record.
func (l *Log) Start() Cursor {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Cursor{seg: l.segs[0].seq, off: segHeader}
}

// End returns a cursor after the newest record.
func (l *Log) End() Cursor {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.segs[len(l.segs)-1]
	return Cursor{seg: s.seq, off: s.size}
}

// Next reads the record at c, skipping those acknowledged in an earlier
// run, and moves c past it. It returns ok false when c is at the end. A
// record found damaged (on disk since Open) is skipped with its segment's
// rest and reported in err, with ok true and a nil payload.
func (l *Log) Next(c *Cursor) (payload []byte, ref Ref, ok bool, err error) {
	for {
		l.mu.Lock()
		i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].seq >= c.seg })
		if i == len(l.segs) {
			l.mu.Unlock()
			return nil, Ref{}, false, nil
		}
		s := l.segs[i]
		if s.seq != c.seg {
			*c = Cursor{seg: s.seq, off: segHeader}
		}
		if c.off >= s.size {
			if i == len(l.segs)-1 {
				l.mu.Unlock()
				return nil, Ref{}, false, nil
			}
			*c = Cursor{seg: l.segs[i+1].seq, off: segHeader}
			l.mu.Unlock()
			continue
		}
		f, size, skip := s.f, s.size, s.skip
		l.mu.Unlock()

		var h [recHeader]byte
		off := c.off
		if _, err := f.ReadAt(h[:], off); err != nil {
			c.off = size
			return nil, Ref{}, true, fmt.Errorf("spool: read: %w", err)
		}
		n := int64(binary.LittleEndian.Uint32(h[:]))
		if n == 0 || n > maxPayload || off+recHeader+n > size {
			c.off = size
			return nil, Ref{}, true, fmt.Errorf("spool: damaged record in %s at %d", l.path(s.seq, segExt), off)
		}
		p := make([]byte, n)
		if _, err := f.ReadAt(p, off+recHeader); err != nil && err != io.EOF {
			c.off = size
			return nil, Ref{}, true, fmt.Errorf("spool: read: %w", err)
		}
		c.off = off + recHeader + n
		if crc32.Update(crc32.Checksum(h[:4], castagnoli), castagnoli, p) != binary.LittleEndian.Uint32(h[4:]) {
			return nil, Ref{}, true, fmt.Errorf("spool: damaged record in %s at %d", l.path(s.seq, segExt), off)
		}
		if _, acked := slices.BinarySearch(skip, uint32(off)); acked {
			continue
		}
		return p, Ref{Seg: s.seq, Off: uint32(off)}, true, nil
	}
}

// Ack records that refs were delivered or refused for good, and deletes
// every sealed segment whose records are all acknowledged. Each ref must
// be acknowledged once.
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
		l.ackLocked(refs[0].Seg, refs[:n])
		refs = refs[n:]
	}
}

func (l *Log) ackLocked(seq uint32, refs []Ref) {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].seq >= seq })
	if i == len(l.segs) || l.segs[i].seq != seq {
		return
	}
	s := l.segs[i]
	s.acked += len(refs)
	if s.sealed && s.acked >= s.records {
		l.deleteLocked(s)
		return
	}
	if !s.sealed && s.acked >= s.records && l.bytes+recHeader+maxPayload > l.opt.MaxBytes {
		// Near the cap, a delivered active segment is sealed (and so
		// deleted) at once: with MaxBytes below SegmentBytes it would
		// otherwise never be, and the spool would stay full for good.
		if err := l.rotateLocked(); err != nil {
			l.log.Warn("analytics: spool: cannot begin a new segment", "error", err)
		}
		return
	}
	if s.ack == nil {
		f, err := os.OpenFile(l.path(seq, ackExt), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			l.log.Warn("analytics: spool: cannot record deliveries; they would be sent again after a restart", "error", err)
			return
		}
		s.ack = f
	}
	b := make([]byte, 8, 8+4*len(refs))
	for _, r := range refs {
		b = binary.LittleEndian.AppendUint32(b, r.Off)
	}
	binary.LittleEndian.PutUint32(b, uint32(len(refs)))
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(b[8:], castagnoli))
	_, _ = s.ack.Write(b) // a lost entry only means a duplicate after a restart
}

func (l *Log) deleteLocked(s *segment) {
	l.remove(s)
	l.bytes -= s.size
	l.segs = slices.DeleteFunc(l.segs, func(x *segment) bool { return x == s })
	close(l.room)
	l.room = make(chan struct{})
}

// remove deletes a segment's files: the segment first, so that a crash in
// between leaves only an ack file, which Open removes.
func (l *Log) remove(s *segment) {
	if s.f != nil {
		s.f.Close()
	}
	if s.ack != nil {
		s.ack.Close()
	}
	if err := os.Remove(l.path(s.seq, segExt)); err != nil {
		l.log.Warn("analytics: spool: cannot delete a delivered segment", "error", err)
	}
	_ = os.Remove(l.path(s.seq, ackExt))
}

// Close fsyncs what was written (unless Options.Sync is negative), closes
// the files and releases the directory. Records not acknowledged stay for
// the next Open.
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
	var err error
	l.mu.Lock()
	if l.opt.Sync >= 0 && len(l.segs) > 0 {
		err = l.segs[len(l.segs)-1].f.Sync()
	}
	l.mu.Unlock()
	l.closeFiles()
	return err
}

func (l *Log) closeFiles() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.segs {
		s.f.Close()
		if s.ack != nil {
			s.ack.Close()
		}
	}
	l.segs = nil
	if l.lock != nil {
		unlockFile(l.lock)
		l.lock.Close()
		l.lock = nil
	}
}
