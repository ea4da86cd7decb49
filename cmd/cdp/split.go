package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
)

// maxLineBytes is the longest input line the command reads whole. The API
// takes at most 32 KB per call, so a longer line cannot be sent; lines up to
// this length still reach the library, which rejects the oversize ones with
// its own error. Longer lines are reported without being held in memory.
const maxLineBytes = 1 << 20

// errLineTooLong is the reason given for a line over maxLineBytes.
var errLineTooLong = errors.New("line is longer than 1 MiB (the API takes at most 32 KB per call)")

// A chunk is a run of records of one input, read by the reader goroutine
// and decoded and sent by one worker. Its records hold the sequence
// numbers first, first+1, ... of the run's tracker. Its text stays in
// memory until the committer has passed every record of it (the bad file
// may need a line's text), and then goes back to chunkPool.
type chunk struct {
	input int
	first int64
	recs  []record
	buf   []byte // the records' text
	max   int    // the most records fill may put in it (at most chunkRecords); 0 is chunkRecords
	left  int    // records the committer has not passed yet; the tracker's lock guards it
}

// full reports whether the chunk holds as many records or bytes as it may.
func (c *chunk) full() bool {
	max := c.max
	if max <= 0 || max > chunkRecords {
		max = chunkRecords
	}
	return len(c.recs) >= max || len(c.buf) >= chunkBytes
}

// A record is one line of an input (one row of a CSV input).
type record struct {
	line       int64 // the line number, from 1 (a CSV row's first line)
	start, end int   // the text in the chunk's buf
	tooLong    bool  // a line over maxLineBytes, whose text is dropped
	row        []string
	err        error // the reader found the record bad (a CSV parse error)
}

// The size of a chunk: the reader hands a chunk out when it holds this many
// records or bytes of text, whichever comes first.
const (
	chunkRecords = 256
	chunkBytes   = 64 << 10
)

// text returns the text of record i of c.
func (c *chunk) text(i int) []byte {
	r := &c.recs[i]
	return c.buf[r.start:r.end]
}

// A splitter reads one input's records into chunks, in order, in bounded
// memory.
type splitter interface {
	// fill appends the next records to ch (up to chunkRecords or
	// chunkBytes). It returns io.EOF, with or without records, at the
	// end of the input.
	fill(ch *chunk) error
	// skip passes over the records on lines up to and including line,
	// without decoding them: the lines a checkpoint says are done.
	skip(line int64) error
}

// lineSplitter splits NDJSON and people lists: one record per line.
type lineSplitter struct {
	br   *bufio.Reader
	line int64 // the last line read
	eof  bool
}

func newLineSplitter(r io.Reader) *lineSplitter {
	return &lineSplitter{br: bufio.NewReaderSize(r, 64<<10)}
}

func (s *lineSplitter) fill(ch *chunk) error {
	for !ch.full() {
		if s.eof {
			return io.EOF
		}
		start := len(ch.buf)
		tooLong := false
		for {
			frag, err := s.br.ReadSlice('\n')
			if !tooLong {
				if len(ch.buf)-start+len(frag) > maxLineBytes+2 {
					tooLong = true
					ch.buf = ch.buf[:start]
				} else {
					ch.buf = append(ch.buf, frag...)
				}
			}
			if err == nil {
				break
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if errors.Is(err, io.EOF) {
				s.eof = true
				if len(ch.buf) == start && !tooLong {
					return io.EOF
				}
				break
			}
			return err
		}
		s.line++
		text := trimEOL(ch.buf[start:])
		ch.buf = ch.buf[:start+len(text)]
		ch.recs = append(ch.recs, record{line: s.line, start: start, end: start + len(text), tooLong: tooLong})
	}
	return nil
}

func (s *lineSplitter) skip(line int64) error {
	for s.line < line {
		for {
			_, err := s.br.ReadSlice('\n')
			if err == nil {
				break
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("the input has %d lines, fewer than the checkpoint's %d: is it the same input?", s.line, line)
			}
			return err
		}
		s.line++
	}
	return nil
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// csvSplitter splits a CSV input with a header row: one record per row,
// its fields, and its text written back as CSV (for the bad file).
type csvSplitter struct {
	r      *csv.Reader
	lim    *rowLimiter
	header []string
	held   *record // a row read by skip, past the checkpoint
	heldPE *csv.ParseError
	last   int64 // the line of the last row read (1: the header)
	text   bytes.Buffer
}

// csvReadAhead is how far past the end of a row encoding/csv may have read
// (the size of its buffer), with room to spare.
const csvReadAhead = 64 << 10

// rowLimiter is the reader under a csv.Reader. encoding/csv holds a whole
// row in memory, and a row has no length limit: a quote left open makes
// the rest of the file one field. rowLimiter bounds what one row may read
// to maxLineBytes (plus the reader's buffer), as the line splitter bounds
// a line.
type rowLimiter struct {
	r    io.Reader
	left int64 // bytes the row being read may still read
}

// errRowTooLong is the reason a CSV input stops: past a row that long, where
// the next row starts cannot be told.
var errRowTooLong = errors.New("is longer than 1 MiB (the API takes at most 32 KB per call); is a quote left open? The rest of the file cannot be read")

// reset allows the next row its full length.
func (l *rowLimiter) reset() { l.left = maxLineBytes + csvReadAhead }

func (l *rowLimiter) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errRowTooLong
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// newCSVSplitter reads the header row of r. An error here is a setup
// error.
func newCSVSplitter(r io.Reader) (*csvSplitter, error) {
	lim := &rowLimiter{r: r}
	lim.reset()
	cr := csv.NewReader(lim)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty CSV: want a header row")
		}
		if errors.Is(err, errRowTooLong) {
			return nil, fmt.Errorf("CSV header %w", err)
		}
		return nil, fmt.Errorf("CSV header: %w", err)
	}
	for i, h := range header {
		header[i] = cleanHeader(h)
	}
	return &csvSplitter{r: cr, lim: lim, header: header, last: 1}, nil
}

// cleanHeader trims a header field and a byte-order mark before it.
func cleanHeader(h string) string {
	return string(bytes.TrimSpace(bytes.TrimPrefix([]byte(h), []byte("\ufeff"))))
}

// read reads the next row and the line it starts on. A row that is not
// valid CSV is returned as parseErr, not err: it is a bad line.
func (s *csvSplitter) read() (row []string, line int64, parseErr *csv.ParseError, err error) {
	s.lim.reset()
	row, err = s.r.Read()
	if errors.As(err, &parseErr) {
		s.last = int64(parseErr.StartLine)
		return nil, s.last, parseErr, nil
	}
	if errors.Is(err, errRowTooLong) {
		return nil, 0, nil, fmt.Errorf("the CSV row after the row on line %d %w", s.last, err)
	}
	if err != nil {
		return nil, 0, nil, err
	}
	start, _ := s.r.FieldPos(0)
	s.last = int64(start)
	return row, s.last, nil, nil
}

// add appends the row to ch, with its text written back as CSV.
func (s *csvSplitter) add(ch *chunk, row []string, line int64, parseErr *csv.ParseError) {
	rec := record{line: line, row: row, start: len(ch.buf)}
	if parseErr != nil {
		rec.err = fmt.Errorf("CSV: %v", parseErr.Err)
	} else {
		s.text.Reset()
		w := csv.NewWriter(&s.text)
		_ = w.Write(row)
		w.Flush()
		ch.buf = append(ch.buf, bytes.TrimSuffix(s.text.Bytes(), []byte("\n"))...)
	}
	rec.end = len(ch.buf)
	ch.recs = append(ch.recs, rec)
}

func (s *csvSplitter) fill(ch *chunk) error {
	if s.held != nil {
		s.add(ch, s.held.row, s.held.line, s.heldPE)
		s.held, s.heldPE = nil, nil
	}
	for !ch.full() {
		row, line, parseErr, err := s.read()
		if err != nil {
			return err
		}
		s.add(ch, row, line, parseErr)
	}
	return nil
}

func (s *csvSplitter) skip(line int64) error {
	for {
		row, start, parseErr, err := s.read()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("the input ends before the checkpoint's line %d: is it the same input?", line)
		}
		if err != nil {
			return err
		}
		if start > line {
			// The first row past the checkpoint: fill hands it out first.
			s.held, s.heldPE = &record{line: start, row: row}, parseErr
			return nil
		}
	}
}
