package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cdpkit/analytics-go/analyticstest"
)

// badKind is how a line of the test file is invalid.
type badKind int

const (
	good badKind = iota
	brokenJSON
	trackWithoutEvent
	noType
	overLimit
)

// importFile writes n NDJSON lines, each with a distinct properties.n
// (traits.n for identify) equal to its line number, and makes the lines
// in bad invalid in the way given. It returns the file's path.
func importFile(t *testing.T, n int, bad map[int]badKind) string {
	t.Helper()
	var b strings.Builder
	big := strings.Repeat("x", 33_000)
	for i := 1; i <= n; i++ {
		switch bad[i] {
		case brokenJSON:
			fmt.Fprintf(&b, `{"type":"track","userId":"u%d","event":"Broken"`+"\n", i)
		case trackWithoutEvent:
			fmt.Fprintf(&b, `{"type":"track","userId":"u%d","properties":{"n":%d}}`+"\n", i, i)
		case noType:
			fmt.Fprintf(&b, `{"userId":"u%d","event":"No Type","properties":{"n":%d}}`+"\n", i, i)
		case overLimit:
			fmt.Fprintf(&b, `{"type":"track","userId":"u%d","event":"Big","properties":{"n":%d,"blob":%q}}`+"\n", i, i, big)
		default:
			switch i % 4 {
			case 0:
				fmt.Fprintf(&b, `{"type":"identify","userId":"u%d","traits":{"n":%d,"email":"u%d@example.com"}}`+"\n", i, i, i)
			case 1:
				fmt.Fprintf(&b, `{"type":"page","anonymousId":"a%d","name":"Home","properties":{"n":%d}}`+"\n", i, i)
			default:
				fmt.Fprintf(&b, `{"type":"track","userId":"u%d","event":"Order Completed","properties":{"n":%d,"total":19.99},"context":{"ip":"10.0.0.1","custom":{"k":"v"}},"timestamp":"2026-01-02T03:04:05Z"}`+"\n", i, i)
			}
		}
	}
	return writeFile(t, "events.ndjson", b.String())
}

// seventeenBad is 17 invalid lines in four ways, spread over 20,000.
func seventeenBad() map[int]badKind {
	bad := map[int]badKind{}
	kinds := []badKind{brokenJSON, trackWithoutEvent, noType, overLimit}
	for k := 0; k < 17; k++ {
		bad[1+k*1171] = kinds[k%4] // 1, 1172, ... 18737
	}
	return bad
}

// lineOf returns the line number a delivered message carries as n.
func lineOf(t *testing.T, m analyticstest.Message) int {
	t.Helper()
	src := m.Properties
	if m.Type == analyticstest.TypeIdentify {
		src = m.Traits
	}
	n, ok := src["n"].(float64)
	if !ok {
		t.Fatalf("message without n: %s", m.Raw)
	}
	return int(n)
}

func checkBadFile(t *testing.T, path string, bad map[int]badKind) {
	t.Helper()
	lines := readLines(t, path)
	if len(lines) != len(bad) {
		t.Fatalf("bad file has %d lines, want %d:\n%s", len(lines), len(bad), strings.Join(lines, "\n"))
	}
	want := map[badKind]*regexp.Regexp{
		brokenJSON:        regexp.MustCompile(`invalid JSON`),
		trackWithoutEvent: regexp.MustCompile(`event`),
		noType:            regexp.MustCompile(`^type: missing`),
		overLimit:         regexp.MustCompile(`too large.*33\d\d\d bytes`),
	}
	seen := map[int]bool{}
	for _, l := range lines {
		var r badRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("bad file line %q: %v", l, err)
		}
		kind, ok := bad[int(r.Line)]
		if !ok || seen[int(r.Line)] {
			t.Errorf("bad file names line %d, which is valid or named twice", r.Line)
			continue
		}
		seen[int(r.Line)] = true
		if !want[kind].MatchString(r.Reason) {
			t.Errorf("line %d: reason %q, want a match for %q", r.Line, r.Reason, want[kind])
		}
		if r.Input == "" || !strings.HasPrefix(r.Input, "{") {
			t.Errorf("line %d: input %.40q, want the line's text", r.Line, r.Input)
		}
		if r.File != filepath.Clean(r.File) || !strings.HasSuffix(r.File, "events.ndjson") {
			t.Errorf("line %d: file %q", r.Line, r.File)
		}
	}
}

func TestImport20000LinesWith17Invalid(t *testing.T) {
	srv := newServer(t)
	bad := seventeenBad()
	file := importFile(t, 20_000, bad)
	badFile := filepath.Join(t.TempDir(), "bad.ndjson")

	r := cdp(t, "", "import", "--endpoint", srv.URL, "--bad", badFile, file)

	if r.code != exitInvalid {
		t.Fatalf("want exit 1 (some lines invalid):\n%s", r)
	}
	checkBadFile(t, badFile, bad)

	msgs := srv.Messages()
	if len(msgs) != 19_983 {
		t.Errorf("delivered %d messages, want 19,983", len(msgs))
	}
	ids := map[string]bool{}
	lines := map[int]bool{}
	for _, m := range msgs {
		if ids[m.MessageID] {
			t.Errorf("messageId %s delivered twice", m.MessageID)
		}
		ids[m.MessageID] = true
		n := lineOf(t, m)
		if lines[n] {
			t.Errorf("line %d delivered twice", n)
		}
		if bad[n] != good {
			t.Errorf("invalid line %d was delivered", n)
		}
		lines[n] = true
	}
	if len(lines) != 19_983 {
		t.Errorf("%d distinct lines delivered, want 19,983", len(lines))
	}
	// The context of the input is sent as it was written.
	for _, m := range msgs {
		if m.Type == "track" {
			if m.Context["ip"] != "10.0.0.1" || fmt.Sprint(m.Context["custom"]) != "map[k:v]" {
				t.Errorf("context sent as %v", m.Context)
			}
			if got := m.Timestamp.Format("2006-01-02T15:04:05Z07:00"); got != "2026-01-02T03:04:05Z" {
				t.Errorf("timestamp sent as %s", got)
			}
			break
		}
	}
	for _, want := range []string{"20000 lines read", "delivered      19983", "not delivered  0", "invalid        17"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestImportDryRunSendsNothing(t *testing.T) {
	srv := newServer(t)
	bad := seventeenBad()
	file := importFile(t, 20_000, bad)
	badFile := filepath.Join(t.TempDir(), "bad.ndjson")
	t.Setenv("CDP_API_KEY", "")
	var out, errb strings.Builder
	code := run([]string{"import", "--dry-run", "--endpoint", srv.URL, "--bad", badFile, file}, strings.NewReader(""), &out, &errb)

	if code != exitInvalid {
		t.Fatalf("exit %d, want 1:\n%s\n%s", code, out.String(), errb.String())
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("dry run sent %d requests", n)
	}
	checkBadFile(t, badFile, bad)
	for _, want := range []string{"valid          19983 (dry run: nothing was sent)", "invalid        17"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

func TestImportWithoutBadFileReportsOnStderr(t *testing.T) {
	srv := newServer(t)
	file := writeFile(t, "e.ndjson", `{"type":"track","userId":"1","event":"A"}
{"type":"track","userId":"2"}

{"type":"nope","userId":"3"}
`)
	r := cdp(t, "", "import", "--endpoint", srv.URL, file)
	if r.code != exitInvalid {
		t.Fatalf("want exit 1:\n%s", r)
	}
	for _, want := range []string{"e.ndjson:2: ", "e.ndjson:4: type: \"nope\""} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if !strings.Contains(r.stdout, "blank          1") || len(srv.Messages()) != 1 {
		t.Errorf("want 1 delivered and 1 blank:\n%s", r)
	}
}

func TestImportAllValidExitsZero(t *testing.T) {
	srv := newServer(t)
	file := importFile(t, 1000, nil)
	r := cdp(t, "", "import", "--endpoint", srv.URL, "--batch-size", "100", file)
	if r.code != exitOK || len(srv.Messages()) != 1000 {
		t.Fatalf("want exit 0 and 1000 messages, got %d:\n%s", len(srv.Messages()), r)
	}
}

func TestImportStdin(t *testing.T) {
	srv := newServer(t)
	r := cdp(t, `{"type":"identify","userId":"42","traits":{"plan":"pro"}}`, "import", "--endpoint", srv.URL, "-")
	if r.code != exitOK {
		t.Fatalf("%s", r)
	}
	m := srv.Messages()
	if len(m) != 1 || m[0].UserID != "42" || m[0].Traits["plan"] != "pro" {
		t.Fatalf("got %v", m)
	}
}

func TestImportRefusedMessagesGoToBadFile(t *testing.T) {
	srv := newServer(t)
	srv.SetDefault(analyticstest.Response{Status: 400, Body: `{"error":"bad"}`})
	file := importFile(t, 10, nil)
	badFile := filepath.Join(t.TempDir(), "bad.ndjson")
	r := cdp(t, "", "import", "--endpoint", srv.URL, "--bad", badFile, file)
	if r.code != exitInvalid {
		t.Fatalf("want exit 1:\n%s", r)
	}
	lines := readLines(t, badFile)
	if len(lines) != 10 {
		t.Fatalf("bad file has %d lines, want the 10 refused:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	// Each refused line carries its input, to be fixed and sent again,
	// and the messageId it was sent with.
	input := readLines(t, file)
	for i, l := range lines {
		var rec badRecord
		_ = json.Unmarshal([]byte(l), &rec)
		if rec.Line != int64(i+1) || rec.MessageID == "" || !strings.Contains(rec.Reason, "400") || rec.Input != input[i] {
			t.Errorf("bad record %d: %+v, want line %d with its input %s", i, rec, i+1, input[i])
		}
	}
	if !strings.Contains(r.stdout, "not delivered  10") {
		t.Errorf("summary:\n%s", r.stdout)
	}
}

func TestImportCSV(t *testing.T) {
	srv := newServer(t)
	file := writeFile(t, "orders.csv", "user_id,email,total,coupon,notes\n"+
		"42,a@example.com,19.99,SAVE10,x\n"+
		"43,,0,,y\n"+
		",,5,,z\n")
	badFile := filepath.Join(t.TempDir(), "bad.ndjson")
	r := cdp(t, "", "import", "--endpoint", srv.URL, "--type", "track", "--event", "Order Completed",
		"--map", "user_id=userId", "--map", "total=properties.total", "--map", "coupon=properties.coupon", "--map", "notes=-",
		"--bad", badFile, file)
	if r.code != exitInvalid {
		t.Fatalf("want exit 1 (row 4 has no userId):\n%s", r)
	}
	msgs := srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("got %d messages", len(msgs))
	}
	m := msgs[0]
	if m.UserID != "42" || m.Event != "Order Completed" || m.Properties["total"] != 19.99 || m.Properties["coupon"] != "SAVE10" {
		t.Errorf("row 2 sent as %s", m.Raw)
	}
	if tr, _ := m.Context["traits"].(map[string]any); tr["email"] != "a@example.com" {
		t.Errorf("email sent as %v", m.Context)
	}
	if _, ok := msgs[1].Properties["coupon"]; ok || msgs[1].Properties["total"] != 0.0 {
		t.Errorf("row 3 sent as %s", msgs[1].Raw)
	}
	lines := readLines(t, badFile)
	if len(lines) != 1 || !strings.Contains(lines[0], `"line":4`) || !strings.Contains(lines[0], "userId") {
		t.Errorf("bad file: %v", lines)
	}
}

func TestImportCSVUnknownColumnIsUsageError(t *testing.T) {
	srv := newServer(t)
	file := writeFile(t, "x.csv", "userId,plan\n1,pro\n")
	good := writeFile(t, "a.csv", "userId,traits.plan\n1,pro\n")
	// The second file's header is checked before the first is sent.
	r := cdp(t, "", "import", "--endpoint", srv.URL, "--type", "identify", good, file)
	if r.code != exitUsage {
		t.Fatalf("want exit 2 (a setup error):\n%s", r)
	}
	if !strings.Contains(r.stderr, `column "plan"`) || len(srv.Requests()) != 0 {
		t.Fatalf("want an error naming the column and nothing sent:\n%s", r)
	}
}

func TestCheckpointLeavesNoTemporaryFiles(t *testing.T) {
	// The checkpoint's temporary files never stay behind.
	srv := newServer(t)
	dir := t.TempDir()
	ck := filepath.Join(dir, "ck.json")
	file := importFile(t, 300, nil)
	if r := cdp(t, "", "import", "--endpoint", srv.URL, "--batch-size", "50", "--checkpoint", ck, file); r.code != exitOK {
		t.Fatalf("%s", r)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("checkpoint directory holds %v", entries)
	}
}

// countingStdin is stdin that counts the bytes the command read from it.
type countingStdin struct {
	r io.Reader
	n int64
}

func (c *countingStdin) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestImportCSVRowOverLimitStopsInBoundedMemory: a CSV row has no length
// limit of its own (a quote left open makes the rest of the input one
// field), so a row over 1 MiB stops the run with the reason instead of
// being read whole, whatever the size of the input.
func TestImportCSVRowOverLimitStopsInBoundedMemory(t *testing.T) {
	srv := newServer(t)
	input := "userId,traits.note\n1,a\n2,\"" + strings.Repeat("x", 8<<20) + "\"\n3,c\n"
	stdin := &countingStdin{r: strings.NewReader(input)}
	t.Setenv("CDP_API_KEY", testKey)
	var out, errb strings.Builder
	code := run([]string{"import", "--quiet", "--format", "csv", "--type", "identify", "--endpoint", srv.URL, "-"}, stdin, &out, &errb)

	if code != exitStopped || !strings.Contains(errb.String(), "the CSV row after the row on line 2 is longer than 1 MiB") {
		t.Fatalf("exit %d, want 1 and the reason:\n%s\n%s", code, out.String(), errb.String())
	}
	if stdin.n > 2<<20 {
		t.Errorf("read %d bytes of the 8 MiB row; want the reading to stop past 1 MiB", stdin.n)
	}
	if msgs := srv.Messages(); len(msgs) != 1 || msgs[0].UserID != "1" {
		t.Errorf("want the row before the long one delivered, got %v", msgs)
	}
}
