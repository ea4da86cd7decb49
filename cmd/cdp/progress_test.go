package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the progress goroutine and the
// test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestProgressWithoutTerminalWritesAPlainLinePerTick(t *testing.T) {
	var c counts
	var out syncBuffer
	tick := make(chan time.Time)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := now
	var mu sync.Mutex
	p := &progress{w: &out, c: &c, total: 1000, verb: "delivered", tick: tick, now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return clock
	}}
	p.begin()
	c.read.Store(400)
	c.delivered.Store(250)
	c.failed.Store(2)
	c.invalid.Store(3)
	c.bytes.Store(250) // a quarter of the input in 10 seconds: 30 seconds left
	mu.Lock()
	clock = now.Add(10 * time.Second)
	mu.Unlock()
	tick <- clock
	tick <- clock // the second send returns once the first line is written
	p.end()

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := "cdp: read 400, delivered 250, failed 2, invalid 3, 40 lines/s, 25%, ETA 30s"
	if len(lines) != 2 || lines[0] != want {
		t.Fatalf("progress lines %q, want two of %q", lines, want)
	}
}

func TestProgressLineWithoutKnownSize(t *testing.T) {
	var c counts
	c.read.Store(10)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &progress{c: &c, total: -1, verb: "valid", now: func() time.Time { return start.Add(2 * time.Second) }, start: start}
	if got, want := p.line(), "cdp: read 10, valid 0, failed 0, invalid 0, 5 lines/s"; got != want {
		t.Errorf("line %q, want %q", got, want)
	}
}

// TestProgressShowsRetries: a run that waits out an outage says so, with
// the requests sent again.
func TestProgressShowsRetries(t *testing.T) {
	var c counts
	c.read.Store(10)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	retries := int64(0)
	p := &progress{c: &c, total: -1, verb: "delivered", now: func() time.Time { return start.Add(2 * time.Second) }, start: start,
		retries: func() int64 { return retries }}
	if got := p.line(); strings.Contains(got, "retries") {
		t.Errorf("no retry yet, but %q", got)
	}
	retries = 3
	if got, want := p.line(), "cdp: read 10, delivered 0, failed 0, invalid 0, retries 3, 5 lines/s"; got != want {
		t.Errorf("line %q, want %q", got, want)
	}
}
