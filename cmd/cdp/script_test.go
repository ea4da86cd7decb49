package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

// What a script user expects of cdp (issue 19): a summary it can read,
// exit statuses it can tell apart, the version, and small things.

// TestJSONSummary: --json prints one JSON object with the counts, the
// requests, the time, the bad file and the checkpoint.
func TestJSONSummary(t *testing.T) {
	srv := newServer(t)
	file := importFile(t, 500, map[int]badKind{3: noType, 10: brokenJSON})
	dir := t.TempDir()
	badFile, ck := filepath.Join(dir, "bad.ndjson"), filepath.Join(dir, "ck")
	r := cdp(t, "", "import", "--json", "--batch-size", "100", "--bad", badFile, "--checkpoint", ck, "--endpoint", srv.URL, file)
	if r.code != exitInvalid {
		t.Fatalf("want exit 1:\n%s", r)
	}
	var s summaryJSON
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil || dec.More() {
		t.Fatalf("stdout is not one JSON summary (%v):\n%s", err, r.stdout)
	}
	if s.Command != "import" || s.Read != 500 || s.Delivered != 498 || s.Invalid != 2 || s.Failed != 0 || s.Skipped != 0 || s.Exit != exitInvalid {
		t.Errorf("counts %+v", s)
	}
	if s.Requests < 5 || s.ElapsedSeconds <= 0 || s.LinesPerSecond <= 0 {
		t.Errorf("requests %d, elapsed %v, lines/s %v", s.Requests, s.ElapsedSeconds, s.LinesPerSecond)
	}
	if s.Bad == nil || *s.Bad != badFile || s.Checkpoint == nil || s.Checkpoint.Path != ck || !s.Checkpoint.Done {
		t.Errorf("bad %v, checkpoint %+v", s.Bad, s.Checkpoint)
	}
	if s.Read != s.Delivered+s.Failed+s.Invalid+s.Skipped+s.Blank+s.Unsent {
		t.Errorf("the counts do not add up to the lines read: %+v", s)
	}

	// A single call too.
	r = cdp(t, "", "track", "--json", "--endpoint", srv.URL, "--user", "1", "--event", "E")
	var c callJSON
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil || !c.Delivered || c.MessageID == "" || c.Exit != exitOK {
		t.Errorf("track --json: %s (%v)", r.stdout, err)
	}
}

// TestExitStatusesTellOutcomesApart: each outcome has its own status,
// and --help lists them.
func TestExitStatusesTellOutcomesApart(t *testing.T) {
	lines := `{"type":"track","userId":"1","event":"E"}` + "\n" + `{"type":"track","userId":"2","event":"E"}` + "\n"
	invalid := lines + `{"type":"track","userId":"3"}` + "\n"
	for _, tt := range []struct {
		name   string
		server func(*analyticstest.Transport)
		stdin  string
		args   []string
		want   int
	}{
		{"all delivered", nil, lines, []string{"import", "-"}, exitOK},
		{"some lines invalid", nil, invalid, []string{"import", "-"}, exitInvalid},
		{"usage", nil, lines, []string{"import", "--workers", "0", "-"}, exitUsage},
		{"delivery failed", func(f *analyticstest.Transport) { f.SetDefault(analyticstest.Response{Status: 503, RetryAfter: "0"}) },
			lines, []string{"import", "--max-attempts", "2", "-"}, exitStopped},
		{"refused key", func(f *analyticstest.Transport) { f.SetDefault(analyticstest.Response{Status: 401}) }, lines, []string{"import", "-"}, exitKey},
		{"declined", nil, "no\n", []string{"delete-people", "PEOPLE"}, exitDeclined},
	} {
		synctest.Test(t, func(t *testing.T) {
			fake := analyticstest.NewTransport(t, analyticstest.WithAPIKey(testKey), analyticstest.WithViolationsAllowed())
			if tt.server != nil {
				tt.server(fake)
			}
			args := append([]string{}, tt.args...)
			if args[len(args)-1] == "PEOPLE" {
				args[len(args)-1] = writeFile(t, "p.txt", "42\n")
			}
			r := runWith(t, fake, tt.stdin, append(args[:1:1], append([]string{"--quiet"}, args[1:]...)...)...)
			if r.code != tt.want {
				t.Errorf("%s: exit %d, want %d\n%s", tt.name, r.code, tt.want, r)
			}
		})
	}
	for _, args := range [][]string{{"--help"}, {"import", "--help"}, {"delete-people", "--help"}} {
		r := cdp(t, "", args...)
		for _, want := range []string{"0  every line was delivered", "1  some lines were invalid", "3  the run stopped before the end", "4  the API refused the key", "5  declined"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("cdp %v does not document %q", args, want)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	r := cdp(t, "", "version")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "cdp ") || !strings.Contains(r.stdout, "github.com/cdpkit/analytics-go "+analytics.Version) {
		t.Errorf("cdp version:\n%s", r)
	}
	r = cdp(t, "", "version", "--json")
	var v versionInfo
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.Library != analytics.Version || !strings.HasPrefix(v.Go, "go") {
		t.Errorf("cdp version --json: %s (%v)", r.stdout, err)
	}
}

// TestSmallThings are the small things the issue found.
func TestSmallThings(t *testing.T) {
	srv := newServer(t)
	file := writeFile(t, "one.ndjson", `{"type":"track","userId":"1","event":"E"}`+"\n")

	// --region takes any case.
	rec := &urlRecorder{next: analyticstest.NewTransport(t, analyticstest.WithAPIKey(testKey))}
	if r := runWith(t, rec, "", "track", "--region", "EU", "--user", "1", "--event", "E"); r.code != exitOK || rec.urls[0] != "https://cdp-eu.customer.io/v1/batch" {
		t.Errorf("--region EU: %v\n%s", rec.urls, r)
	}
	// Errors name the command's flags, not the library's options.
	r := cdp(t, "", "import", "--endpoint", "http://cdp.example.com/v1", file)
	if r.code != exitUsage || strings.Contains(r.stderr, "With") || !strings.Contains(r.stderr, "--endpoint") {
		t.Errorf("plain http endpoint:\n%s", r)
	}
	// --bad /dev/null is a place to throw bad lines away.
	if _, err := os.Stat(os.DevNull); err == nil {
		r = cdp(t, "", "import", "--quiet", "--bad", os.DevNull, "--endpoint", srv.URL, file)
		if r.code != exitOK {
			t.Errorf("--bad %s:\n%s", os.DevNull, r)
		}
	}
	// An unknown flag is one line, not the usage.
	r = cdp(t, "", "import", "--no-such-flag", file)
	if r.code != exitUsage || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "cdp import --help") {
		t.Errorf("unknown flag:\n%s", r)
	}
	// "1 line read", not "1 lines read".
	r = cdp(t, "", "import", "--quiet", "--endpoint", srv.URL, file)
	if !strings.Contains(r.stdout, "1 line read") {
		t.Errorf("summary of one line:\n%s", r.stdout)
	}
	// A checkpoint at the start of a file resumes "from the start of" it,
	// not "after line 0".
	two := writeFile(t, "two.ndjson", `{"type":"track","userId":"2","event":"E"}`+"\n")
	ck := filepath.Join(t.TempDir(), "ck")
	c := checkpoint{Version: checkpointVersion, Command: "import", Inputs: []string{filepath.Clean(file), filepath.Clean(two)}, Run: "r", File: 1}
	if err := c.save(ck); err != nil {
		t.Fatal(err)
	}
	r = cdp(t, "", "import", "--quiet", "--checkpoint", ck, "--endpoint", srv.URL, file, two)
	if r.code != exitOK || !strings.Contains(r.stderr, "from the start of "+filepath.Clean(two)) || strings.Contains(r.stderr, "line 0") {
		t.Errorf("resume at the start of a file:\n%s", r)
	}
}

// TestSustainedRetryAfterIsWaitedOut: an import waits out a 429 with
// Retry-After for as long as --max-retry-time allows (30 minutes by
// default, where the library's request-path default gives up after 5),
// and stops, resumably, once it is spent.
func TestSustainedRetryAfterIsWaitedOut(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want int
	}{
		{nil, exitOK},
		{[]string{"--max-retry-time", "5m"}, exitStopped},
	} {
		synctest.Test(t, func(t *testing.T) {
			fake := analyticstest.NewTransport(t, analyticstest.WithAPIKey(testKey))
			for range 20 { // 20 minutes of 429s
				fake.Script(analyticstest.Response{Status: 429, RetryAfter: "60"})
			}
			start := time.Now()
			args := append([]string{"import", "--quiet"}, tt.args...)
			r := runWith(t, fake, `{"type":"track","userId":"1","event":"E"}`+"\n", append(args, "-")...)
			if r.code != tt.want {
				t.Fatalf("%v: exit %d, want %d after %v\n%s", tt.args, r.code, tt.want, time.Since(start), r)
			}
			if tt.want == exitOK && time.Since(start) < 20*time.Minute {
				t.Errorf("delivered after %v, before the 20 minutes of Retry-After", time.Since(start))
			}
		})
	}
}

// TestImportReadsWithOutputLines: lines as the library's WithOutput writes
// them (the batch elements the API gets) are imported as they are, their
// messageId and timestamp kept.
func TestImportReadsWithOutputLines(t *testing.T) {
	srv := newServer(t)
	lines := []string{
		`{"type":"track","messageId":"9a1c7e42-0000-4000-8000-000000000001","timestamp":"2026-03-01T10:00:00.123Z","event":"Order Completed","userId":"42","properties":{"total":19.99,"items":[{"sku":"a"}]},"integrations":{"All":false,"Customer.io Data Pipelines":true},"context":{"ip":"10.1.2.3","library":{"name":"github.com/cdpkit/analytics-go","version":"0.3.0"}}}`,
		`{"type":"identify","messageId":"9a1c7e42-0000-4000-8000-000000000002","timestamp":"2026-03-01T10:00:01Z","userId":"42","traits":{"email":"ann@example.com"},"context":{"library":{"name":"github.com/cdpkit/analytics-go","version":"0.3.0"}}}`,
		`{"type":"group","messageId":"9a1c7e42-0000-4000-8000-000000000003","timestamp":"2026-03-01T10:00:02Z","userId":"42","groupId":"acme","objectTypeId":"2","traits":{"object_type_id":"2","name":"Acme"},"context":{"library":{"name":"github.com/cdpkit/analytics-go","version":"0.3.0"}}}`,
		`{"type":"page","messageId":"9a1c7e42-0000-4000-8000-000000000004","timestamp":"2026-03-01T10:00:03Z","anonymousId":"a1","name":"Docs","category":"Help","properties":{"category":"Help","url":"https://example.com/docs"},"context":{"library":{"name":"github.com/cdpkit/analytics-go","version":"0.3.0"}}}`,
	}
	file := writeFile(t, "out.ndjson", strings.Join(lines, "\n")+"\n")
	if r := cdp(t, "", "import", "--quiet", "--endpoint", srv.URL, file); r.code != exitOK {
		t.Fatalf("%s", r)
	}
	msgs := srv.Messages()
	if len(msgs) != len(lines) {
		t.Fatalf("%d messages", len(msgs))
	}
	byID := map[string]analyticstest.Message{}
	for _, m := range msgs {
		byID[m.MessageID] = m
	}
	for i, l := range lines {
		var in struct {
			MessageID    string         `json:"messageId"`
			Timestamp    time.Time      `json:"timestamp"`
			Integrations map[string]any `json:"integrations"`
		}
		_ = json.Unmarshal([]byte(l), &in)
		m, ok := byID[in.MessageID]
		if !ok || !m.Timestamp.Equal(in.Timestamp) {
			t.Errorf("line %d: sent as %s, want messageId %s and timestamp %v", i+1, m.Raw, in.MessageID, in.Timestamp)
		}
		if in.Integrations != nil && m.Integrations["All"] != false {
			t.Errorf("line %d: integrations sent as %v", i+1, m.Integrations)
		}
	}
	if p := byID["9a1c7e42-0000-4000-8000-000000000001"].Properties; p["total"] != 19.99 || len(p["items"].([]any)) != 1 {
		t.Errorf("properties sent as %v", p)
	}
}

// lineTimes returns the timestamps of the messages srv received, by userId.
func lineTimes(srv *analyticstest.Server) map[string]time.Time {
	got := map[string]time.Time{}
	for _, m := range srv.Messages() {
		got[m.UserID] = m.Timestamp
	}
	return got
}

// TestTimestampsAsTheyCome: RFC 3339, Unix seconds and milliseconds (as
// numbers or strings) by default, and a layout with --timestamp-format.
func TestTimestampsAsTheyCome(t *testing.T) {
	srv := newServer(t)
	want := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sec := strconv.FormatInt(want.Unix(), 10)
	ms := strconv.FormatInt(want.UnixMilli(), 10)
	file := writeFile(t, "t.ndjson", strings.Join([]string{
		`{"type":"track","userId":"rfc","event":"E","timestamp":"2026-01-02T04:04:05+01:00"}`,
		`{"type":"track","userId":"sec","event":"E","timestamp":` + sec + `}`,
		`{"type":"track","userId":"ms","event":"E","timestamp":` + ms + `}`,
		`{"type":"track","userId":"secstr","event":"E","timestamp":"` + sec + `"}`,
	}, "\n"))
	if r := cdp(t, "", "import", "--quiet", "--endpoint", srv.URL, file); r.code != exitOK {
		t.Fatalf("%s", r)
	}
	csvFile := writeFile(t, "t.csv", "userId,when\nlayout,2026-01-02 03:04:05\n")
	if r := cdp(t, "", "import", "--quiet", "--type", "track", "--event", "E", "--map", "when=timestamp", "--timestamp-format", "2006-01-02 15:04:05", "--endpoint", srv.URL, csvFile); r.code != exitOK {
		t.Fatalf("%s", r)
	}
	for user, at := range lineTimes(srv) {
		if !at.Equal(want) {
			t.Errorf("%s: sent at %v, want %v", user, at, want)
		}
	}
	if n := len(srv.Messages()); n != 5 {
		t.Errorf("%d messages, want 5", n)
	}
	bad := writeFile(t, "bad.ndjson", `{"type":"track","userId":"x","event":"E","timestamp":"02/01/2026"}`+"\n")
	if r := cdp(t, "", "import", "--quiet", "--endpoint", srv.URL, bad); r.code != exitInvalid || !strings.Contains(r.stderr, "--timestamp-format") {
		t.Errorf("a timestamp of another layout: want exit 1 naming --timestamp-format:\n%s", r)
	}
}

// TestCSVUnmappedColumnsGoToProperties: --unmapped sends every column that
// is not a field as a property (or trait), instead of a --map each.
func TestCSVUnmappedColumnsGoToProperties(t *testing.T) {
	srv := newServer(t)
	file := writeFile(t, "o.csv", "userId,plan,seats,zip\n42,pro,3,02134\n")
	if r := cdp(t, "", "import", "--quiet", "--type", "track", "--event", "Upgraded", "--endpoint", srv.URL, file); r.code != exitUsage || !strings.Contains(r.stderr, "--unmapped") {
		t.Errorf("without --unmapped: want a usage error pointing at it:\n%s", r)
	}
	if r := cdp(t, "", "import", "--quiet", "--type", "track", "--event", "Upgraded", "--unmapped", "properties", "--endpoint", srv.URL, file); r.code != exitOK {
		t.Fatalf("%s", r)
	}
	if p := srv.Messages()[0].Properties; p["plan"] != "pro" || p["seats"] != 3.0 || p["zip"] != "02134" {
		t.Errorf("properties %v", p)
	}
	if r := cdp(t, "", "import", "--quiet", "--type", "identify", "--unmapped", "traits", "--endpoint", srv.URL, file); r.code != exitOK {
		t.Fatalf("%s", r)
	}
	if tr := srv.Messages()[1].Traits; tr["plan"] != "pro" || tr["seats"] != 3.0 {
		t.Errorf("traits %v", tr)
	}
}

// TestBackFillGuardRails: the dry run and the summary count the events
// less than 72 hours old (which can trigger campaigns); --skip-recent
// keeps them out, and --since/--until keep a window.
func TestBackFillGuardRails(t *testing.T) {
	srv := newServer(t)
	now := time.Now().UTC()
	at := func(d time.Duration) string { return now.Add(-d).Format(time.RFC3339) }
	file := writeFile(t, "b.ndjson", strings.Join([]string{
		`{"type":"track","userId":"old","event":"E","timestamp":"` + at(30*24*time.Hour) + `"}`,
		`{"type":"track","userId":"recent","event":"E","timestamp":"` + at(time.Hour) + `"}`,
		`{"type":"track","userId":"untimed","event":"E"}`,
		`{"type":"identify","userId":"person","timestamp":"` + at(time.Hour) + `"}`,
	}, "\n"))
	r := cdp(t, "", "import", "--dry-run", "--quiet", "--json", file)
	var s summaryJSON
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil || s.Recent != 2 || *s.Valid != 4 {
		t.Errorf("dry run: recent %d of valid %v, want 2 of 4 (%v):\n%s", s.Recent, s.Valid, err, r)
	}
	r = cdp(t, "", "import", "--quiet", "--skip-recent", "72h", "--endpoint", srv.URL, file)
	if r.code != exitOK || !strings.Contains(r.stdout, "skipped        2") {
		t.Fatalf("--skip-recent: %s", r)
	}
	got := lineTimes(srv)
	if _, ok := got["recent"]; ok || len(got) != 2 || got["old"].IsZero() || got["person"].IsZero() {
		t.Errorf("--skip-recent sent %v, want the old event and the identify", got)
	}
	srv.Reset()
	r = cdp(t, "", "import", "--quiet", "--since", at(40*24*time.Hour), "--until", at(24*time.Hour), "--endpoint", srv.URL, file)
	if got := lineTimes(srv); r.code != exitOK || len(got) != 1 || got["old"].IsZero() {
		t.Errorf("--since/--until sent %v:\n%s", got, r)
	}
}

// TestIDFromMakesReRunsSafe: without a checkpoint, a re-run sends new
// random messageIds; with --id-from, the same ones, derived from the
// fields named (or the line), so the API can tell the copies.
func TestIDFromMakesReRunsSafe(t *testing.T) {
	srv := newServer(t)
	var b strings.Builder
	for n := 1; n <= 50; n++ {
		b.WriteString(`{"type":"track","userId":"u` + strconv.Itoa(n%7) + `","event":"E","properties":{"n":` + strconv.Itoa(n) + "}}\n")
	}
	file := writeFile(t, "tracks.ndjson", b.String())
	ids := func(args ...string) map[int]string {
		srv.Reset()
		if r := cdp(t, "", append([]string{"import", "--quiet", "--endpoint", srv.URL}, append(args, file)...)...); r.code != exitOK {
			t.Fatalf("%s", r)
		}
		got := map[int]string{}
		for _, m := range srv.Messages() {
			got[lineOf(t, m)] = m.MessageID
		}
		return got
	}
	random1, random2 := ids(), ids()
	if random1[5] == random2[5] {
		t.Errorf("without --id-from a re-run sent line 5 with the same id %s", random1[5])
	}
	for _, from := range []string{"line", "userId,properties.n"} {
		a, b := ids("--id-from", from), ids("--id-from", from)
		seen := map[string]bool{}
		for n := 1; n <= 50; n++ {
			if a[n] == "" || a[n] != b[n] || seen[a[n]] {
				t.Errorf("--id-from %s: line %d sent as %s then %s", from, n, a[n], b[n])
			}
			seen[a[n]] = true
		}
	}
	missing := writeFile(t, "m.ndjson", `{"type":"track","userId":"1","event":"E"}`+"\n")
	if r := cdp(t, "", "import", "--quiet", "--id-from", "properties.order_id", "--endpoint", srv.URL, missing); r.code != exitInvalid || !strings.Contains(r.stderr, "properties.order_id is missing") {
		t.Errorf("a line without the --id-from field: %s", r)
	}
}

// TestInterruptWithoutCheckpointHints: Ctrl-C on a run without
// --checkpoint says that a re-run would send everything again, and how
// to make runs resumable.
func TestInterruptWithoutCheckpointHints(t *testing.T) {
	srv := newServer(t)
	srv.SetDefault(analyticstest.Response{Delay: 5 * time.Millisecond})
	file := importFile(t, 3000, nil)
	ctx := interruptAfter(t, srv, 200)
	var out, errb strings.Builder
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return testKey }}
	code := runContext(ctx, e, []string{"import", "--quiet", "--workers", "1", "--batch-size", "100", "--endpoint", srv.URL, file})
	if code != exitStopped || !strings.Contains(errb.String(), "stopped: interrupted") || !strings.Contains(errb.String(), "add --checkpoint FILE") {
		t.Errorf("exit %d, want %d with the hint:\n%s", code, exitStopped, errb.String())
	}
}

// TestREADMELeadsWithABuildFromAClone: the README's command line section
// shows first how to build the command from a clone, and go install only
// for once it is released.
func TestREADMELeadsWithABuildFromAClone(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## Command line\n")
	if !ok {
		t.Fatal("README.md has no Command line section")
	}
	build := strings.Index(section, "go -C cmd/cdp build -o ~/bin/cdp .")
	install := strings.Index(section, "go install github.com/cdpkit/analytics-go/cmd/cdp@")
	released := strings.Index(section, "Once released")
	if build < 0 || install < 0 || build > install || released < 0 || released > install {
		t.Errorf("the Command line section should lead with go -C cmd/cdp build (at %d) and show go install (at %d) under \"Once released\" (at %d)", build, install, released)
	}
	for _, status := range []string{"| 0 |", "| 1 |", "| 2 |", "| 3 |", "| 4 |", "| 5 |"} {
		if !strings.Contains(section, status) {
			t.Errorf("the Command line section does not list exit status %s", status)
		}
	}
}
