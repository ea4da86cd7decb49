package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

// spoolWith leaves n messages in a spool in a new directory: a client
// whose API refuses its key keeps them. It returns the directory.
func spoolWith(t *testing.T, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "spool")
	refusing := analyticstest.NewServer(t, analyticstest.WithAPIKey("another-key"))
	c, err := analytics.New(testKey, analytics.WithEndpoint(refusing.URL), analytics.WithSpool(dir),
		analytics.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		var msg analytics.Message = analytics.Track{UserID: "u", Event: "Spooled", MessageID: fmt.Sprint("s-", i)}
		if i%4 == 0 {
			msg = analytics.Identify{UserID: "u", MessageID: fmt.Sprint("s-", i)}
		}
		if err := c.Enqueue(msg); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.Close()
	return dir
}

// TestSpoolCommand: cdp spool prints what a spool holds, by type, with
// the oldest message's age, as text and as JSON, while a client owns the
// directory, and sends nothing.
func TestSpoolCommand(t *testing.T) {
	before := time.Now()
	dir := spoolWith(t, 40)
	srv := newServer(t)
	// A client holds the directory (its API holds every request, so it
	// sends nothing meanwhile).
	hold := make(chan struct{})
	srv.SetDefault(analyticstest.Response{Hold: hold})
	c, err := analytics.New(testKey, analytics.WithEndpoint(srv.URL), analytics.WithSpool(dir),
		analytics.WithLogger(slog.New(slog.DiscardHandler)), analytics.WithFlushInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		close(hold)
		_ = c.Close()
	}()

	r := cdp(t, "", "spool", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "messages    40 (identify 10, track 30)") ||
		!strings.Contains(r.stdout, "damaged     none") || !strings.Contains(r.stdout, "oldest      written") {
		t.Fatalf("cdp spool:\n%s", r)
	}
	r = cdp(t, "", "spool", "--json", dir)
	var rep spoolReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("cdp spool --json: %v\n%s", err, r)
	}
	if rep.Messages != 40 || rep.Types["track"] != 30 || rep.Segments != 1 || rep.Oldest == nil ||
		rep.Oldest.Before(before.Add(-time.Second)) || rep.OldestAge < 0 || len(rep.Damaged) != 0 {
		t.Errorf("cdp spool --json: %+v", rep)
	}
	if n := len(srv.Requests()); n > 1 {
		t.Errorf("cdp spool made the API get %d requests", n)
	}
	if strings.Contains(r.stdout+r.stderr, testKey) {
		t.Error("the key is in the output")
	}
}

// TestSpoolCommandDamage: a damaged region is listed and the exit status
// says so; a directory that does not exist is a clear error.
func TestSpoolCommandDamage(t *testing.T) {
	dir := spoolWith(t, 20)
	segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil || len(segs) != 1 {
		t.Fatalf("segments %v: %v", segs, err)
	}
	data, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	data[30] ^= 0xff // inside the first message's record
	if err := os.WriteFile(segs[0], data, 0o600); err != nil {
		t.Fatal(err)
	}
	r := cdp(t, "", "spool", dir)
	if r.code != 1 || !strings.Contains(r.stdout, "damaged     "+segs[0]) || !strings.Contains(r.stdout, "messages    19") {
		t.Fatalf("cdp spool of a damaged spool:\n%s", r)
	}
	r = cdp(t, "", "spool", filepath.Join(dir, "nothing-here"))
	if r.code != 2 || !strings.Contains(r.stderr, "no such directory") {
		t.Fatalf("cdp spool of a missing directory:\n%s", r)
	}
	if r := cdp(t, "", "spool"); r.code != 2 {
		t.Fatalf("cdp spool without a directory:\n%s", r)
	}
}
