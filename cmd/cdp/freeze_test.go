package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdpkit/analytics-go/analyticstest"
)

// TestUndeliveredBatchStopsTheRunAndHoldsTheCheckpoint: when a batch is
// given up after its retries, the run stops, the checkpoint stays before
// its first line, and the re-run delivers from there.
func TestUndeliveredBatchStopsTheRunAndHoldsTheCheckpoint(t *testing.T) {
	srv := newServer(t)
	const lines = 1000
	file := importFile(t, lines, map[int]badKind{150: noType})
	dir := t.TempDir()
	ck, badFile := filepath.Join(dir, "ck"), filepath.Join(dir, "bad")
	args := []string{"import", "--quiet", "--workers", "1", "--decoders", "1", "--batch-size", "100", "--max-attempts", "8", "--endpoint", srv.URL, "--checkpoint", ck, "--bad", badFile, file}

	// Two rounds go through; the third is answered 503 until the
	// library's attempts run out (Retry-After: 0 keeps the waits short).
	srv.Script(analyticstest.Response{}, analyticstest.Response{})
	for range 8 {
		srv.Script(analyticstest.Response{Status: 503, RetryAfter: "0"})
	}
	srv.SetDefault(analyticstest.Response{Status: 503, RetryAfter: "0"})
	r := cdp(t, "", args...)
	if r.code != exitStopped || !strings.Contains(r.stderr, "was not delivered") {
		t.Fatalf("want exit 1 and the reason:\n%s", r)
	}
	var c checkpoint
	data, _ := os.ReadFile(ck)
	if err := json.Unmarshal(data, &c); err != nil || c.Line != 201 {
		// Rounds of 100 messages: lines 1-101 (line 150 is invalid, so
		// the second round ends at line 201); the third starts at 202.
		t.Fatalf("checkpoint %s, want line 201", data)
	}
	if got := len(srv.Messages()); got != 200 {
		t.Errorf("%d delivered before the failure, want 200", got)
	}

	// Line 150, then the undelivered lines from line 202 on: the 100 of
	// the failed batch, and those of a batch the sender had begun before
	// the run stopped, if any.
	bad := readLines(t, badFile)
	if len(bad) < 101 || !strings.Contains(bad[0], `"line":150`) || !strings.Contains(bad[1], `"line":202`) {
		t.Fatalf("bad file after the failure has %d lines, want line 150 and the 100 undelivered from line 202:\n%s", len(bad), strings.Join(bad, "\n"))
	}
	for _, l := range bad[1:] {
		var rec badRecord
		if err := json.Unmarshal([]byte(l), &rec); err != nil || rec.Line < 202 || !strings.Contains(rec.Reason, "503") || !strings.HasPrefix(rec.Input, "{") {
			t.Errorf("bad record %s: want an undelivered line past 201, with its reason and input", l)
		}
	}

	srv.SetDefault(analyticstest.Response{})
	// Line 150, before the checkpoint, was reported by the first run and
	// is not read again: the re-run delivers the rest and exits 0.
	rerun(t, args)
	seen := linesDelivered(t, srv)
	for n := 1; n <= lines; n++ {
		if want := map[bool]int{true: 0, false: 1}[n == 150]; seen[n] != want {
			t.Errorf("line %d delivered %d times, want %d", n, seen[n], want)
		}
	}
	// The undelivered lines the first run reported after the checkpoint
	// are cut from the bad file: only line 150 remains.
	bad = readLines(t, badFile)
	if len(bad) != 1 || !strings.Contains(bad[0], `"line":150`) {
		t.Errorf("bad file after the re-run:\n%s", strings.Join(bad, "\n"))
	}
}
