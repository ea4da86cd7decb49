package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

const analyticsDefaultWorkers = analytics.DefaultMaxInFlight

// The four defects of issue 19: a run must never say "done" when nothing
// took effect. Each test failed before the fix.

// peopleCSV writes a CSV export of n people: a header, then one row each.
func peopleCSV(t *testing.T, name, header string, n int) string {
	var b strings.Builder
	b.WriteString(header + "\n")
	for i := range n {
		fmt.Fprintf(&b, "person%d@example.com,Person %d,%d\n", i, i, 1000+i)
	}
	return writeFile(t, name, b.String())
}

// TestPeopleCSVWithoutColumnTakesItsIDColumn: a CSV file given to
// delete-people without --column was read line by line, header included,
// as 1,001 people ("person0@example.com,Person 0,1000"), which the API
// takes and Customer.io matches to nobody. Now it is read as CSV, from the
// one column named as people are (email), and the dry run shows the
// first ids.
func TestPeopleCSVWithoutColumnTakesItsIDColumn(t *testing.T) {
	srv := newServer(t)
	file := peopleCSV(t, "export.csv", "email,name,account", 1000)

	dry := cdp(t, "", "delete-people", "--dry-run", file)
	if dry.code != exitOK || !strings.Contains(dry.stdout, "valid          1000 ") {
		t.Fatalf("dry run: want exit 0 and 1000 valid (not the header):\n%s", dry)
	}
	if !strings.Contains(dry.stdout, `the first people it would delete: "person0@example.com", "person1@example.com"`) {
		t.Errorf("the dry run does not show the first people:\n%s", dry.stdout)
	}

	r := cdp(t, "", "delete-people", "--yes", "--endpoint", srv.URL, file)
	if r.code != exitOK || !strings.Contains(r.stdout, "delivered      1000\n") {
		t.Fatalf("want 1000 delivered:\n%s", r)
	}
	if !strings.Contains(r.stderr, `taking each person from its column "email"`) {
		t.Errorf("the command does not say which column it read:\n%s", r.stderr)
	}
	deleted := srv.ByEvent("User Deleted")
	if len(deleted) != 1000 {
		t.Fatalf("%d deletions, want 1000", len(deleted))
	}
	got := map[string]int{}
	for _, m := range deleted {
		got[m.UserID]++
	}
	for i := range 1000 {
		if id := fmt.Sprintf("person%d@example.com", i); got[id] != 1 {
			t.Fatalf("%s deleted %d times, want once", id, got[id])
		}
	}
}

// TestPeopleFileThatLooksLikeCSVIsReadAsCSV: the header decides, not only
// the file's name; a header with no column of people, or two, is refused
// before anything is sent, and the error shows the header.
func TestPeopleFileThatLooksLikeCSVIsReadAsCSV(t *testing.T) {
	srv := newServer(t)
	oneColumn := writeFile(t, "people.txt", "email\nann@example.com\nbob@example.com\n")
	if r := cdp(t, "", "suppress", "--yes", "--endpoint", srv.URL, oneColumn); r.code != exitOK || len(srv.Messages()) != 2 {
		t.Fatalf("a one-column list with a header: want the 2 people, got %d:\n%s", len(srv.Messages()), r)
	}
	for header, want := range map[string]string{
		"name,mail,plan":  "no column is named id, userId, user_id or email",
		"id,email,name":   `both "id" and "email"`,
		"user_id,name,id": `both "user_id" and "id"`,
	} {
		file := peopleCSV(t, "people.txt", header, 3)
		r := cdp(t, "", "delete-people", "--yes", "--endpoint", srv.URL, file)
		if r.code != exitUsage || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, header) {
			t.Errorf("header %s: want exit 2 saying %q and showing the header:\n%s", header, want, r)
		}
	}
	if n := len(srv.Messages()); n != 2 {
		t.Errorf("%d messages, want only the 2 of the first file", n)
	}
}

// TestPeopleIdentifierHoldingACommaQuoteOrSpaceIsRefused: a line that
// cannot be one person's id is a bad line, not a person.
func TestPeopleIdentifierHoldingACommaQuoteOrSpaceIsRefused(t *testing.T) {
	srv := newServer(t)
	file := writeFile(t, "p.txt", "u1\nann@example.com,Ann\n\"u2\"\nu 3\nu4\n")
	badFile := filepath.Join(t.TempDir(), "bad.ndjson")
	r := cdp(t, "", "unsuppress", "--yes", "--bad", badFile, "--endpoint", srv.URL, file)
	if r.code != exitInvalid {
		t.Fatalf("want exit 1:\n%s", r)
	}
	var sent []string
	for _, m := range srv.Messages() {
		sent = append(sent, m.UserID)
	}
	if strings.Join(sent, " ") != "u1 u4" {
		t.Errorf("sent %q, want u1 and u4", sent)
	}
	bad := readLines(t, badFile)
	if len(bad) != 3 || !strings.Contains(bad[0], "comma") || !strings.Contains(bad[1], "quote") || !strings.Contains(bad[2], "space") {
		t.Errorf("bad file:\n%s", strings.Join(bad, "\n"))
	}
}

// TestRefusedKeyStopsAndKeepsTheCheckpoint: a 401 ran through the whole
// file, wrote every line to the bad file and marked the checkpoint done,
// so the run with the fixed key sent nothing and exited 0. Now the run
// stops at the first 401 with its own status and the hint, nothing
// refused for the key is recorded as done, and the fixed run sends all.
func TestRefusedKeyStopsAndKeepsTheCheckpoint(t *testing.T) {
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey("the-right-key"))
	const lines = 3000
	file := importFile(t, lines, nil)
	dir := t.TempDir()
	ck, badFile := filepath.Join(dir, "ck"), filepath.Join(dir, "bad")
	args := []string{"import", "--quiet", "--batch-size", "100", "--endpoint", srv.URL, "--checkpoint", ck, "--bad", badFile, file}

	r := cdp(t, "", args...) // with testKey, which the API refuses
	if r.code != exitKey || !strings.Contains(r.stderr, "check the key and --region") {
		t.Fatalf("want exit %d and the hint:\n%s", exitKey, r)
	}
	var c checkpoint
	data, _ := os.ReadFile(ck)
	if err := json.Unmarshal(data, &c); err != nil || c.Done || c.File != 0 || c.Line != 0 {
		t.Fatalf("checkpoint after the refused key: %s (%v); want it before line 1", data, err)
	}
	// It stops: at most the batches already queued (the tracker's window)
	// are tried, not the 30 of the whole file.
	if got := len(srv.Requests()); got > windowBatches*analyticsDefaultWorkers {
		t.Errorf("%d requests after the first 401, want the run to stop within its window of %d batches", got, windowBatches*analyticsDefaultWorkers)
	}

	t.Setenv("CDP_API_KEY", "the-right-key")
	var out, errb strings.Builder
	if code := run(args, strings.NewReader(""), &out, &errb); code != exitOK {
		t.Fatalf("the run with the right key: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	seen := linesDelivered(t, srv)
	for n := 1; n <= lines; n++ {
		if seen[n] != 1 {
			t.Fatalf("line %d delivered %d times", n, seen[n])
		}
	}
	if bad := readLines(t, badFile); len(bad) != 0 {
		t.Errorf("the bad file after the fixed run holds %d lines, want none:\n%s", len(bad), bad[0])
	}
}

// TestRefusedAfterBisectionCarriesItsInput: a line the API refused (a
// 400 that bisection narrowed down to it) is in the bad file with its
// input, so that the README's recipe of fixing and re-importing the
// lines of the bad file (jq -r .input) finds it.
func TestRefusedAfterBisectionCarriesItsInput(t *testing.T) {
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey), analyticstest.WithViolationsAllowed(), analyticstest.WithMessageRule(func(m analyticstest.Message) error {
		if m.Properties["n"] == 7.0 {
			return errors.New("n 7 is refused")
		}
		return nil
	}))
	file := importFile(t, 40, nil)
	badFile := filepath.Join(t.TempDir(), "bad.ndjson")
	r := cdp(t, "", "import", "--quiet", "--bad", badFile, "--endpoint", srv.URL, file)
	if r.code != exitInvalid || len(srv.Messages()) != 39 {
		t.Fatalf("want exit 1 and 39 delivered, got %d:\n%s", len(srv.Messages()), r)
	}
	bad := readLines(t, badFile)
	if len(bad) != 1 {
		t.Fatalf("bad file:\n%s", strings.Join(bad, "\n"))
	}
	var rec badRecord
	if err := json.Unmarshal([]byte(bad[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if want := readLines(t, file)[6]; rec.Line != 7 || rec.Input != want || !strings.Contains(rec.Reason, "400") {
		t.Errorf("bad record %+v, want line 7 with its input %s", rec, want)
	}
}
