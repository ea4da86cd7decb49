package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	analytics "github.com/cdpkit/analytics-go"
)

// A record is one line of an input (one row of a CSV input): a message to
// send, or the reason it cannot be sent.
type record struct {
	line  int64  // the line number, from 1 (a CSV row's first line)
	text  []byte // the input's text; valid until the next call to next
	msg   analytics.Message
	err   error // why the line cannot be made a message; msg is nil
	blank bool  // an empty line: counted, not sent
}

// A source reads the records of one input in order, in bounded memory.
type source interface {
	// next returns the next record, or io.EOF after the last.
	next() (record, error)
	// skip passes over the records on lines up to and including line,
	// without decoding them: the lines a checkpoint says are done.
	skip(line int64) error
}

// ndjsonSource reads one message in the API's JSON shape per line.
type ndjsonSource struct{ lr *lineReader }

func (s *ndjsonSource) next() (record, error) {
	text, tooLong, err := s.lr.next()
	if err != nil {
		return record{}, err
	}
	rec := record{line: s.lr.line, text: text}
	switch {
	case tooLong:
		rec.err = errLineTooLong
	case len(bytes.TrimSpace(text)) == 0:
		rec.blank = true
	default:
		rec.msg, rec.err = decodeMessage(text)
	}
	return rec, nil
}

func (s *ndjsonSource) skip(line int64) error { return skipLines(s.lr, line) }

func skipLines(lr *lineReader, line int64) error {
	for lr.line < line {
		if _, _, err := lr.next(); err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("the input has %d lines, fewer than the checkpoint's %d: is it the same input?", lr.line, line)
			}
			return err
		}
	}
	return nil
}

// listSource reads one value per line (a user id or an email) and makes
// each a message with build.
type listSource struct {
	lr    *lineReader
	build func(value string) analytics.Message
}

func (s *listSource) next() (record, error) {
	text, tooLong, err := s.lr.next()
	if err != nil {
		return record{}, err
	}
	rec := record{line: s.lr.line, text: text}
	value := strings.TrimSpace(string(text))
	switch {
	case tooLong:
		rec.err = errLineTooLong
	case value == "":
		rec.blank = true
	default:
		rec.msg = s.build(value)
	}
	return rec, nil
}

func (s *listSource) skip(line int64) error { return skipLines(s.lr, line) }

// csvSource reads a CSV input with a header row and makes each row a
// message with build.
type csvSource struct {
	r     *csv.Reader
	lim   *rowLimiter
	build func(row []string) (analytics.Message, error)
	held  *record // a record read by skip that was past the checkpoint
	text  bytes.Buffer
	last  int64 // the line of the last row read (1: the header)
}

// csvReadAhead is how far past the end of a row encoding/csv may have read
// (the size of its buffer), with room to spare.
const csvReadAhead = 64 << 10

// rowLimiter is the reader under a csv.Reader. encoding/csv holds a whole
// row in memory, and a row has no length limit: a quote left open makes
// the rest of the file one field. rowLimiter bounds what one row may read
// to maxLineBytes (plus the reader's buffer), as lineReader bounds a line.
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

// newCSVSource reads the header row of r and asks plan for the function
// that makes a row a message. An error here is a setup error.
func newCSVSource(r io.Reader, plan func(header []string) (func([]string) (analytics.Message, error), error)) (*csvSource, error) {
	lim := &rowLimiter{r: r}
	lim.reset()
	cr := csv.NewReader(lim)
	cr.ReuseRecord = true
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
	build, err := plan(header)
	if err != nil {
		return nil, err
	}
	return &csvSource{r: cr, lim: lim, build: build, last: 1}, nil
}

func (s *csvSource) next() (record, error) {
	if s.held != nil {
		rec := *s.held
		s.held = nil
		return rec, nil
	}
	row, line, parseErr, err := s.read()
	if err != nil {
		return record{}, err
	}
	return s.record(row, line, parseErr), nil
}

// read reads the next row and the line it starts on. A row that is not
// valid CSV is returned as parseErr, not err: it is a bad line.
func (s *csvSource) read() (row []string, line int64, parseErr *csv.ParseError, err error) {
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

// record makes a row a record; its text is the row written back as CSV.
func (s *csvSource) record(row []string, line int64, parseErr *csv.ParseError) record {
	rec := record{line: line}
	if parseErr != nil {
		rec.err = fmt.Errorf("CSV: %v", parseErr.Err)
		return rec
	}
	s.text.Reset()
	w := csv.NewWriter(&s.text)
	_ = w.Write(row)
	w.Flush()
	rec.text = bytes.TrimSuffix(s.text.Bytes(), []byte("\n"))
	if allEmpty(row) {
		rec.blank = true
		return rec
	}
	rec.msg, rec.err = s.build(row)
	return rec
}

func (s *csvSource) skip(line int64) error {
	for {
		row, start, parseErr, err := s.read()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("the input ends before the checkpoint's line %d: is it the same input?", line)
		}
		if err != nil {
			return err
		}
		if start > line {
			// The first row past the checkpoint: hand it out from next.
			rec := s.record(row, start, parseErr)
			rec.text = bytes.Clone(rec.text)
			s.held = &rec
			return nil
		}
	}
}

func allEmpty(row []string) bool {
	for _, f := range row {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}
