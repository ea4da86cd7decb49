package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"sync/atomic"
)

// maxLineBytes is the longest input line the command reads whole. The API
// takes at most 32 KB per call, so a longer line cannot be sent; lines up to
// this length still reach the library, which rejects the oversize ones with
// its own error. Longer lines are reported without being held in memory.
const maxLineBytes = 1 << 20

// errLineTooLong is the reason given for a line over maxLineBytes.
var errLineTooLong = errors.New("line is longer than 1 MiB (the API takes at most 32 KB per call)")

// lineReader reads an input one line at a time, in bounded memory: a line
// is returned in a buffer that the next call reuses.
type lineReader struct {
	r    *bufio.Reader
	buf  []byte
	line int64 // number of the line last returned, from 1
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next line without its line ending ("\n" or "\r\n").
// tooLong reports a line over maxLineBytes, whose content is dropped. At
// the end of the input it returns io.EOF; a last line without a newline is
// still a line.
func (lr *lineReader) next() (line []byte, tooLong bool, err error) {
	lr.buf = lr.buf[:0]
	for {
		chunk, err := lr.r.ReadSlice('\n')
		if !tooLong {
			if len(lr.buf)+len(chunk) > maxLineBytes+2 {
				tooLong = true
				lr.buf = lr.buf[:0]
			} else {
				lr.buf = append(lr.buf, chunk...)
			}
		}
		switch {
		case err == nil:
			lr.line++
			return trimEOL(lr.buf), tooLong, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(lr.buf) == 0 && !tooLong && len(chunk) == 0 {
				return nil, false, io.EOF
			}
			lr.line++
			return trimEOL(lr.buf), tooLong, nil
		default:
			return nil, false, err
		}
	}
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// countingReader counts the bytes read through it, for progress.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
