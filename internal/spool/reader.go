package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
)

// readChunk is how much a Reader reads from a segment at a time.
const readChunk = 128 << 10

// Record is what Reader.Next returns: one intact record, or a count of
// records lost to damage.
type Record struct {
	// Payload is the record's payload, valid until the next call of
	// Next; nil when Lost is set.
	Payload []byte
	// Ref is where the record is, for Ack.
	Ref Ref
	// Lost, when positive, counts records of one segment that the Reader
	// passed over: damaged after Open found them, or written after Open
	// and damaged since. Unless Kept is set, they will never be read, and
	// the Log counts them as done, as if acknowledged.
	Lost int
	// Kept reports that the Lost records could not be read because the
	// file system failed to read them (an I/O error, after retries), not
	// because they are damaged: they stay in the log for the next Open
	// to try again, and their segment with them.
	Kept bool
}

// Reader reads a Log's records in order, from the oldest, skipping those
// acknowledged in an earlier run. It reads a segment a chunk at a time and
// copies nothing per record. A Reader is used by one goroutine at a time;
// Appends and Acks may go on meanwhile.
type Reader struct {
	l      *Log
	seg    uint32 // the segment being read
	off    int64  // where its next record is
	passed int    // records of seg read, skipped as acknowledged, or lost
	buf    []byte // bytes of seg from bufOff
	bufOff int64
}

// NewReader returns a Reader at the oldest record.
func (l *Log) NewReader() *Reader { return &Reader{l: l} }

// Position is a place in the log: a segment and an offset in it. Records
// are appended at increasing positions.
type Position struct {
	seg uint32
	off int64
}

// Before reports whether p is before q.
func (p Position) Before(q Position) bool {
	return p.seg < q.seg || (p.seg == q.seg && p.off < q.off)
}

// Position returns where the record named by ref is.
func (ref Ref) Position() Position { return Position{ref.Seg, int64(ref.Off)} }

// Next returns the next record, and false when r is at the end of the log.
func (r *Reader) Next() (Record, bool) {
	l := r.l
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return Record{}, false // a closed Log has nothing more to read
		}
		i, found := slices.BinarySearchFunc(l.segs, r.seg, func(s *segment, seq uint32) int { return int(int64(s.seq) - int64(seq)) })
		if i == len(l.segs) {
			// Past the newest segment: at the end (the segment being read
			// may have been deleted, everything in it done).
			l.mu.Unlock()
			return Record{}, false
		}
		s := l.segs[i]
		if s.seq > l.published.seg {
			l.mu.Unlock()
			return Record{}, false // not published yet
		}
		if !found {
			r.seg, r.off, r.passed, r.buf = s.seq, segHeader, 0, r.buf[:0]
		}
		// What r may read of s: all of it, or, in the segment of the
		// published end, what is before it.
		limit, recs, last := s.size, s.records, i == len(l.segs)-1
		if s.seq == l.published.seg {
			limit, recs, last = l.published.off, l.pubRecords, true
		}
		if r.off >= limit {
			// At the segment's end: what was not passed is lost.
			if lost := recs - r.passed; lost > 0 {
				r.passed = recs
				l.forfeitLocked(s, lost)
				l.mu.Unlock()
				return Record{Lost: lost}, true
			}
			if last {
				l.mu.Unlock()
				return Record{}, false
			}
			next := l.segs[i+1]
			r.seg, r.off, r.passed, r.buf = next.seq, segHeader, 0, r.buf[:0]
			l.mu.Unlock()
			continue
		}
		f, size, skip, holes := s.f, limit, s.skip, s.holes
		l.mu.Unlock()

		if h, ok := holeAt(holes, r.off); ok {
			r.off = h.to
			continue
		}
		p, err := r.record(f, size)
		if err != nil && !errors.Is(err, errDamaged) {
			// An I/O error, which may pass: try again before giving up.
			for try := 0; try < readTries && err != nil && !errors.Is(err, errDamaged); try++ {
				r.buf = r.buf[:0]
				p, err = r.record(f, size)
			}
		}
		if err != nil && l.isClosed() {
			return Record{}, false // closed while reading: not a fault of the file
		}
		if err != nil && !errors.Is(err, errDamaged) {
			if lost := r.unreadable(s, size, recs, skip, err); lost > 0 {
				return Record{Lost: lost, Kept: true}, true
			}
			continue
		}
		if err != nil {
			if rerr := r.damage(s, f, size, skip, err); rerr != nil {
				if lost := r.unreadable(s, size, recs, skip, rerr); lost > 0 {
					return Record{Lost: lost, Kept: true}, true
				}
			}
			continue
		}
		ref := Ref{Seg: s.seq, Off: uint32(r.off)}
		r.off += recHeader + int64(len(p))
		r.passed++
		if _, acked := slices.BinarySearch(skip, ref.Off); acked {
			continue
		}
		return Record{Payload: p, Ref: ref}, true
	}
}

func holeAt(holes []hole, off int64) (hole, bool) {
	for _, h := range holes {
		if off >= h.from && off < h.to {
			return h, true
		}
	}
	return hole{}, false
}

var errDamaged = errors.New("damaged record")

// readTries is how many times a Reader, or ReadRecord, tries again a read
// that failed with an I/O error.
const readTries = 3

// record returns the payload of the record at r.off, which is below size,
// from r's buffer, filling it as needed.
func (r *Reader) record(f File, size int64) ([]byte, error) {
	if err := r.fill(f, recHeader, size); err != nil {
		return nil, err
	}
	at := r.off - r.bufOff
	n := int64(binary.LittleEndian.Uint32(r.buf[at:]))
	if n == 0 || n > maxPayload || r.off+recHeader+n > size {
		return nil, errDamaged
	}
	if err := r.fill(f, recHeader+n, size); err != nil {
		return nil, err
	}
	at = r.off - r.bufOff
	h, p := r.buf[at:at+recHeader], r.buf[at+recHeader:at+recHeader+n]
	if crc32.Update(crc32.Checksum(h[:4], castagnoli), castagnoli, p) != binary.LittleEndian.Uint32(h[4:]) {
		return nil, errDamaged
	}
	return p, nil
}

// fill makes r.buf hold the need bytes at r.off, reading a chunk (not past
// size) if it does not.
func (r *Reader) fill(f File, need, size int64) error {
	if r.off >= r.bufOff && r.off+need <= r.bufOff+int64(len(r.buf)) {
		return nil
	}
	want := min(max(need, readChunk), size-r.off)
	if int64(cap(r.buf)) < want {
		r.buf = make([]byte, want)
	}
	r.buf = r.buf[:want]
	n, err := f.ReadAt(r.buf, r.off)
	r.buf, r.bufOff = r.buf[:n], r.off
	if int64(n) >= need {
		return nil
	}
	if err == nil || err == io.EOF {
		// The file is shorter than the records the Log wrote to it:
		// cut by something else.
		return fmt.Errorf("%w: the file ends at %d", errDamaged, r.off+int64(n))
	}
	return err
}

// unreadable passes over the records of segment s up to size (of which
// the segment had recs), which the file system fails to read, without
// counting them done: they stay for the next Open. It returns how many it
// passed.
func (r *Reader) unreadable(s *segment, size int64, recs int, skip []uint32, cause error) int {
	l := r.l
	l.log.Error("analytics: spool: cannot read a segment; its messages are left for the next start",
		"file", l.path(s.seq, segExt), "offset", r.off, "error", cause)
	lost := recs - r.passed
	for _, o := range skip {
		if int64(o) >= r.off && int64(o) < size {
			lost-- // acknowledged in an earlier run: done already
		}
	}
	r.off, r.passed, r.buf = size, recs, r.buf[:0]
	return lost
}

// damage handles a record at r.off that cannot be read: it finds the next
// intact record of the segment, marks the region between as a hole, and
// moves r past it. The records lost in it are counted when r reaches the
// segment's end.
// It returns the error of a read that failed while it looked for the next
// record, having changed nothing.
func (r *Reader) damage(s *segment, f File, size int64, skip []uint32, cause error) error {
	l := r.l
	to := size
	rest := make([]byte, size-r.off)
	n, err := f.ReadAt(rest, r.off)
	if n < len(rest) && err != nil && err != io.EOF {
		return err
	}
	if next := resync(rest[:n], 1); next >= 0 {
		to = r.off + next
	}
	l.log.Error("analytics: spool: damaged record; skipping to the next intact one",
		"file", l.path(s.seq, segExt), "offset", r.off, "bytes", to-r.off, "error", cause)
	// Records acknowledged in an earlier run that lie in the hole are
	// passed: they are done already.
	for _, o := range skip {
		if int64(o) >= r.off && int64(o) < to {
			r.passed++
		}
	}
	l.mu.Lock()
	s.holes = append(s.holes, hole{r.off, to})
	s.damaged = true
	l.damaged++
	l.mu.Unlock()
	r.off = to
	r.buf = r.buf[:0]
	return nil
}

// ReadRecord reads the record at ref into buf (grown if need be) and
// returns its payload. It fails if the record is not there or is damaged,
// or if the file system fails to read it (an I/O error) readTries more
// times, as a Reader does.
func (l *Log) ReadRecord(ref Ref, buf []byte) ([]byte, error) {
	l.mu.Lock()
	s := l.segLocked(ref.Seg)
	if s == nil || int64(ref.Off)+recHeader > s.size {
		l.mu.Unlock()
		return nil, fmt.Errorf("spool: no record at %d in segment %d", ref.Off, ref.Seg)
	}
	f, size := s.f, s.size
	l.mu.Unlock()
	p, err := l.readRecord(f, size, ref, buf)
	for try := 0; try < readTries && err != nil && !IsDamaged(err); try++ {
		p, err = l.readRecord(f, size, ref, buf)
	}
	return p, err
}

// readRecord reads the record at ref, in file f of size bytes, once.
func (l *Log) readRecord(f File, size int64, ref Ref, buf []byte) ([]byte, error) {
	var h [recHeader]byte
	if _, err := f.ReadAt(h[:], int64(ref.Off)); err != nil {
		return nil, fmt.Errorf("spool: read: %w", err) // not errDamaged: see IsDamaged
	}
	n := int64(binary.LittleEndian.Uint32(h[:]))
	if n == 0 || n > maxPayload || int64(ref.Off)+recHeader+n > size {
		return nil, fmt.Errorf("spool: %w in %s at %d", errDamaged, l.path(ref.Seg, segExt), ref.Off)
	}
	buf = slices.Grow(buf[:0], int(n))[:n]
	if _, err := f.ReadAt(buf, int64(ref.Off)+recHeader); err != nil && err != io.EOF {
		return nil, fmt.Errorf("spool: read: %w", err)
	}
	if crc32.Update(crc32.Checksum(h[:4], castagnoli), castagnoli, buf) != binary.LittleEndian.Uint32(h[4:]) {
		return nil, fmt.Errorf("spool: %w in %s at %d", errDamaged, l.path(ref.Seg, segExt), ref.Off)
	}
	return buf, nil
}

// IsDamaged reports whether err, from ReadRecord, says the record is
// damaged (rather than that the file system failed to read it, which may
// pass).
func IsDamaged(err error) bool { return errors.Is(err, errDamaged) }

// Forfeit records that the record at ref is done without an
// acknowledgement written for it: it is damaged (ReadRecord failed, and
// IsDamaged).
func (l *Log) Forfeit(ref Ref) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.segLocked(ref.Seg); s != nil {
		l.forfeitLocked(s, 1)
	}
}

// isClosed reports whether Close has begun.
func (l *Log) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}
