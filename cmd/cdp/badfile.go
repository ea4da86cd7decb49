package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// badRecord is one line of the bad file: an input line that was invalid,
// refused by the API or not delivered, with the reason. Input holds the
// line's text (a CSV row written back as CSV), so that it can be corrected
// and sent again (jq -r .input bad.ndjson); only a line too long to hold
// has none. MessageID is the id a line was sent with, if it was sent.
type badRecord struct {
	File      string `json:"file"`
	Line      int64  `json:"line"`
	Reason    string `json:"reason"`
	Input     string `json:"input,omitempty"`
	MessageID string `json:"messageId,omitempty"`
}

// badLog reports bad lines: to the --bad file as NDJSON, or, without one,
// to stderr as "file:line: reason", at most maxStderrBad of them, so that
// no bad line is ever skipped without a word.
type badLog struct {
	f       *os.File
	regular bool // f is a regular file (not /dev/null, a pipe): it is cut and synced
	w       *bufio.Writer
	written int64 // bytes in the file, including what w buffers
	stderr  io.Writer
	shown   int
	hidden  int
}

const maxStderrBad = 20

// openBadLog opens path for the bad lines of a run, cut to size bytes (the
// size recorded in the checkpoint; 0 for a new run) if it is longer. An empty path reports
// to stderr.
func openBadLog(path string, size int64, stderr io.Writer) (*badLog, error) {
	b := &badLog{stderr: stderr}
	if path == "" {
		return b, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("--bad: %w", err)
	}
	// A bad file shorter than the checkpoint says (removed, or another
	// one) is kept as it is: Truncate would pad it with zero bytes.
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("--bad: %w", err)
	}
	b.regular = fi.Mode().IsRegular()
	if !b.regular {
		// /dev/null, a pipe, a terminal: written to, never cut or synced.
		b.f, b.w = f, bufio.NewWriter(f)
		return b, nil
	}
	size = min(size, fi.Size())
	if err := f.Truncate(size); err != nil {
		f.Close()
		return nil, fmt.Errorf("--bad: %w", err)
	}
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("--bad: %w", err)
	}
	b.f, b.w, b.written = f, bufio.NewWriter(f), size
	return b, nil
}

func (b *badLog) add(r badRecord) error {
	if b.f == nil {
		if b.shown < maxStderrBad {
			b.shown++
			_, err := fmt.Fprintf(b.stderr, "%s:%d: %s\n", r.File, r.Line, r.Reason)
			return err
		}
		b.hidden++
		return nil
	}
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	data = append(data, '\n')
	n, err := b.w.Write(data)
	b.written += int64(n)
	return err
}

// sync writes what is buffered to disk, and returns the file's size: the
// size a checkpoint written now records.
func (b *badLog) sync() (int64, error) {
	if b.f == nil {
		return 0, nil
	}
	if err := b.w.Flush(); err != nil {
		return b.written, fmt.Errorf("--bad: %w", err)
	}
	if !b.regular {
		return b.written, nil
	}
	if err := b.f.Sync(); err != nil {
		return b.written, fmt.Errorf("--bad: %w", err)
	}
	return b.written, nil
}

func (b *badLog) close() error {
	if b.f == nil {
		if b.hidden > 0 {
			fmt.Fprintf(b.stderr, "cdp: %d more bad lines not shown; use --bad FILE to keep them all\n", b.hidden)
		}
		return nil
	}
	if err := b.w.Flush(); err != nil {
		b.f.Close()
		return fmt.Errorf("--bad: %w", err)
	}
	return b.f.Close()
}
