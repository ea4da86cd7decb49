package spool

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"slices"
	"strconv"
	"strings"
)

// dirEntry is a file of a spool's directory that Open and Inspect care
// about.
type dirEntry struct {
	seq uint32
	ext string // segExt, ackExt, or segExt+damagedExt
}

// listDir returns the segment, ack and set-aside files of dir.
func listDir(fsys FS, dir string) ([]dirEntry, error) {
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	var out []dirEntry
	for _, name := range names {
		base, ext, ok := strings.Cut(name, ".")
		if !ok || len(base) != segNameSize {
			continue
		}
		n, err := strconv.ParseUint(base, 10, 32)
		if err != nil || n == 0 {
			continue
		}
		switch "." + ext {
		case segExt, ackExt, segExt + damagedExt:
			out = append(out, dirEntry{uint32(n), "." + ext})
		}
	}
	return out, nil
}

// scanned is what a scan of one segment file found.
type scanned struct {
	offs     []uint32 // the intact records, in order
	holes    []hole   // damaged regions
	good     int64    // the end of the last intact record
	size     int64    // the file's size
	torn     bool     // the bad bytes at the end are a torn tail
	badMagic bool
}

// scanSegment reads a segment's records. newest says whether it is the
// newest segment, whose bad end is a torn tail rather than damage.
func scanSegment(data []byte, newest bool) scanned {
	if newest && len(data) < int(segHeader) && string(data) == magic[:len(data)] {
		// The newest segment's creation, cut short by a crash before its
		// header was all written: it holds nothing, and is no damage.
		return scanned{size: int64(len(data)), torn: len(data) > 0}
	}
	sc := scanned{size: int64(len(data)), good: segHeader}
	sc.badMagic = len(data) < int(segHeader) || string(data[:segHeader]) != magic
	off := segHeader
	for off < int64(len(data)) {
		if n, ok := validAt(data, off); ok {
			sc.offs = append(sc.offs, uint32(off))
			off += recHeader + n
			sc.good = off
			continue
		}
		next := resync(data, off+1)
		if next < 0 {
			if newest && !sc.badMagic && len(sc.holes) == 0 {
				sc.torn = true
			} else {
				sc.holes = append(sc.holes, hole{off, int64(len(data))})
			}
			break
		}
		sc.holes = append(sc.holes, hole{off, next})
		off = next
	}
	if sc.badMagic && len(data) > 0 {
		sc.holes = append([]hole{{0, segHeader}}, sc.holes...)
	}
	return sc
}

// recover scans the existing segments into l.segs, deleting those whose
// records are all acknowledged, and sets nextSeq past every name in use.
func (l *Log) recover(rec *Recovery) error {
	entries, err := listDir(l.fs, l.dir)
	if err != nil {
		return err
	}
	var seqs []uint32
	acks := map[uint32]bool{}
	l.nextSeq = 1
	for _, e := range entries {
		l.nextSeq = max(l.nextSeq, e.seq+1)
		switch e.ext {
		case segExt:
			seqs = append(seqs, e.seq)
		case ackExt:
			acks[e.seq] = true
		}
	}
	slices.Sort(seqs)
	for seq := range acks {
		if _, found := slices.BinarySearch(seqs, seq); !found {
			_ = l.fs.Remove(l.path(seq, ackExt)) // its segment was deleted
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, seq := range seqs {
		if err := l.recoverSegment(seq, i == len(seqs)-1, rec); err != nil {
			return err
		}
	}
	l.publishLocked() // everything found is there to read
	if l.dirDirty && l.opt.Sync >= 0 {
		if err := l.fs.SyncDir(l.dir); err != nil {
			l.log.Error("analytics: spool: fsync of the directory failed", "error", err)
		}
		l.dirDirty = false
	}
	return nil
}

// recoverSegment scans one segment and adds it to l.segs, or deletes it if
// it has nothing left to send.
func (l *Log) recoverSegment(seq uint32, newest bool, rec *Recovery) error {
	path := l.path(seq, segExt)
	data, err := readFile(l.fs, path)
	if err != nil {
		rec.Unreadable++
		l.log.Error("analytics: spool: cannot read a segment; leaving it for the next start", "file", path, "error", err)
		return nil
	}
	sc := scanSegment(data, newest)
	if sc.torn {
		rec.Torn++
		l.log.Warn("analytics: spool: dropped a torn record at the end of the newest segment (a write cut short by a crash)",
			"file", path, "offset", sc.good, "bytes", sc.size-sc.good)
	}
	for _, h := range sc.holes {
		l.log.Warn("analytics: spool: damaged region skipped", "file", path, "offset", h.from, "bytes", h.to-h.from)
	}
	rec.Damaged += len(sc.holes)
	skip, ackSize := readAcks(l.fs, l.path(seq, ackExt))
	s := &segment{seq: seq, size: sc.good, fileSize: sc.size, records: len(sc.offs), sealed: true,
		holes: sc.holes, damaged: len(sc.holes) > 0}
	s.ack.size = ackSize
	for _, o := range sc.offs {
		if _, acked := slices.BinarySearch(skip, o); acked {
			s.done++
			s.skip = append(s.skip, o) // offs ascend, so skip stays sorted
		}
	}
	// Room for an entry for each record still to be acknowledged, written
	// from the end of the last complete entry (over a torn one); or for
	// the ack file as it is, if it is longer.
	ackPath := l.path(seq, ackExt)
	s.ackRoom = max(ackFileSize(l.fs, ackPath), ackSize+int64(s.records-s.done)*ackRoom)
	if sc.torn {
		// A failed truncate leaves the bytes beyond good, which nothing
		// reads: they stay charged in fileSize.
		if err := truncateFile(l.fs, path, sc.good); err == nil {
			s.fileSize = sc.good
		}
	}
	l.bytes += s.charge()
	l.segs = append(l.segs, s)
	if s.done >= s.records {
		l.finishLocked(s)
		return nil
	}
	f, err := l.fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		rec.Unreadable++
		l.log.Error("analytics: spool: cannot open a segment; leaving it for the next start", "file", path, "error", err)
		l.bytes -= s.charge()
		l.segs = l.segs[:len(l.segs)-1]
		return nil
	}
	s.f = f
	rec.Records += s.records - s.done
	if l.opt.Sync >= 0 {
		// A process that was killed may have left its last writes in the
		// operating system's cache only: make them durable now, as they
		// were promised to be.
		if err := f.Sync(); err != nil {
			l.log.Error("analytics: spool: fsync of a recovered segment failed", "file", path, "error", err)
		}
		// Its acknowledgements too, though ack files are not fsynced
		// while running: were a later power loss to take back those
		// found now, their records would need more room than is charged
		// for them (an entry of k records is 8+4k bytes, k entries of
		// one 12k), and the files could outgrow MaxBytes.
		if ackSize > 0 {
			if err := syncFile(l.fs, ackPath); err != nil {
				l.log.Error("analytics: spool: fsync of a recovered ack file failed", "file", ackPath, "error", err)
			}
		}
		l.dirDirty = true
	}
	return nil
}

func syncFile(fsys FS, path string) error {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func truncateFile(fsys FS, path string, size int64) error {
	f, err := fsys.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ackFileSize returns the size of an ack file, 0 if there is none.
func ackFileSize(fsys FS, path string) int64 {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return 0
	}
	defer f.Close()
	n, _ := f.Size()
	return n
}

// readAcks returns the sorted record offsets listed in an ack file, and the
// end of its last complete entry; a damaged or torn entry ends the list.
func readAcks(fsys FS, path string) (offs []uint32, end int64) {
	data, err := readFile(fsys, path)
	if err != nil {
		return nil, 0
	}
	for len(data) >= ackEntryHeader {
		n := int(binary.LittleEndian.Uint32(data))
		if n <= 0 || n > len(data)/4 || ackEntryHeader+4*n > len(data) {
			break
		}
		body := data[ackEntryHeader : ackEntryHeader+4*n]
		if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[4:]) {
			break
		}
		for i := range n {
			offs = append(offs, binary.LittleEndian.Uint32(body[4*i:]))
		}
		data = data[ackEntryHeader+4*n:]
		end += int64(ackEntryHeader + 4*n)
	}
	slices.Sort(offs)
	return slices.Compact(offs), end
}
