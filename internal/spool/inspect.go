package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
)

// Summary is what Inspect found in a spool's directory.
type Summary struct {
	// Segments lists the segment files, oldest first.
	Segments []SegmentInfo
	// Bytes is the size of the segment and ack files.
	Bytes int64
	// Records counts the intact records not yet acknowledged.
	Records int
	// Torn is the size of the bytes after the last intact record of the
	// newest segment: a write cut short by a crash, or one in progress.
	Torn int64
	// Damaged lists the damaged regions of the segments.
	Damaged []Region
	// SetAside lists the damaged segment files renamed aside.
	SetAside []string
	// Unreadable lists the segment files that could not be read.
	Unreadable []string
}

// SegmentInfo is one segment file.
type SegmentInfo struct {
	File  string
	Bytes int64
	// Records counts its intact records not yet acknowledged.
	Records int
}

// Region is a damaged region of a segment file.
type Region struct {
	File          string
	Offset, Bytes int64
}

// Inspect reads the spool in dir without changing anything and without
// taking its lock, so that it works while a client owns the directory: it
// then sees the files as they are at that moment. It calls each, if not
// nil, with the payload of every record not yet acknowledged, oldest
// first; each may keep nothing of it. fsys nil is the operating system's.
func Inspect(dir string, fsys FS, each func(payload []byte)) (Summary, error) {
	if fsys == nil {
		fsys = OS
	}
	var sum Summary
	entries, err := listDir(fsys, dir)
	if err != nil {
		return sum, err
	}
	var seqs []uint32
	for _, e := range entries {
		switch e.ext {
		case segExt:
			seqs = append(seqs, e.seq)
		case segExt + damagedExt:
			sum.SetAside = append(sum.SetAside, join(dir, fmt.Sprintf("%0*d%s", segNameSize, e.seq, e.ext)))
		case ackExt:
			sum.Bytes += ackFileSize(fsys, join(dir, fmt.Sprintf("%0*d%s", segNameSize, e.seq, e.ext)))
		}
	}
	slices.Sort(seqs)
	for i, seq := range seqs {
		path := join(dir, fmt.Sprintf("%0*d%s", segNameSize, seq, segExt))
		data, err := readFile(fsys, path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since the listing: its records are done
		}
		if err != nil {
			sum.Unreadable = append(sum.Unreadable, path)
			continue
		}
		sum.Segments = append(sum.Segments, SegmentInfo{File: path, Bytes: int64(len(data))})
		info := &sum.Segments[len(sum.Segments)-1]
		sum.Bytes += int64(len(data))
		sc := scanSegment(data, i == len(seqs)-1)
		if sc.torn {
			sum.Torn = sc.size - sc.good
		}
		for _, h := range sc.holes {
			sum.Damaged = append(sum.Damaged, Region{File: path, Offset: h.from, Bytes: h.to - h.from})
		}
		skip, _ := readAcks(fsys, join(dir, fmt.Sprintf("%0*d%s", segNameSize, seq, ackExt)))
		for _, o := range sc.offs {
			if _, acked := slices.BinarySearch(skip, o); acked {
				continue
			}
			sum.Records++
			info.Records++
			if each != nil {
				n, _ := validAt(data, int64(o))
				each(data[int64(o)+recHeader : int64(o)+recHeader+n])
			}
		}
	}
	return sum, nil
}
