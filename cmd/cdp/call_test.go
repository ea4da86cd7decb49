package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cdpkit/analytics-go/analyticstest"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n$`)

func TestTrackSendsOneCall(t *testing.T) {
	srv := newServer(t)
	r := cdp(t, "", "track", "--endpoint", srv.URL, "--user", "42", "--event", "Signed Up",
		"--prop", "plan=pro", "--prop", "seats=3", "--prop", `tags=["a","b"]`, "--prop", "zip=02134")
	if r.code != exitOK || !uuidRE.MatchString(r.stdout) {
		t.Fatalf("want exit 0 and the messageId:\n%s", r)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages", len(msgs))
	}
	m := msgs[0]
	if m.UserID != "42" || m.Event != "Signed Up" || m.MessageID+"\n" != r.stdout {
		t.Errorf("sent %s", m.Raw)
	}
	p := m.Properties
	if p["plan"] != "pro" || p["seats"] != 3.0 || len(p["tags"].([]any)) != 2 || p["zip"] != "02134" {
		t.Errorf("properties sent as %v", p)
	}
}

func TestEachCoreCall(t *testing.T) {
	srv := newServer(t)
	calls := [][]string{
		{"identify", "--user", "42", "--trait", "email=a@example.com"},
		{"page", "--anon", "a1", "--name", "Home"},
		{"screen", "--user", "42", "--name", "Feed"},
		{"group", "--user", "42", "--group", "acme", "--object-type", "2", "--trait", "name=Acme"},
		{"alias", "--user", "42", "--previous", "a1"},
	}
	for _, c := range calls {
		if r := cdp(t, "", append(c, "--endpoint", srv.URL)...); r.code != exitOK {
			t.Errorf("%v: %s", c, r)
		}
	}
	msgs := srv.Messages()
	if len(msgs) != len(calls) {
		t.Fatalf("got %d messages", len(msgs))
	}
	for i, want := range []string{"identify", "page", "screen", "group", "alias"} {
		if msgs[i].Type != want {
			t.Errorf("call %d sent as %s", i, msgs[i].Type)
		}
	}
	if msgs[3].GroupID != "acme" || msgs[3].ObjectTypeID != "2" || msgs[4].PreviousID != "a1" {
		t.Errorf("group and alias sent as %s, %s", msgs[3].Raw, msgs[4].Raw)
	}
}

func TestCallExitStatus(t *testing.T) {
	srv := newServer(t)
	if r := cdp(t, "", "track", "--endpoint", srv.URL, "--user", "42"); r.code != exitInvalid || !strings.Contains(r.stderr, "event") {
		t.Errorf("track without --event: %s", r)
	}
	srv.Script(analyticstest.Response{Status: 400, Body: `{"error":"nope"}`})
	if r := cdp(t, "", "track", "--endpoint", srv.URL, "--user", "42", "--event", "E"); r.code != exitInvalid || !strings.Contains(r.stderr, "400") {
		t.Errorf("refused by the API: %s", r)
	}
	if r := cdp(t, "", "track", "--no-such-flag"); r.code != exitUsage {
		t.Errorf("unknown flag: %s", r)
	}
	if r := cdp(t, "", "frobnicate"); r.code != exitUsage {
		t.Errorf("unknown command: %s", r)
	}
	if r := cdp(t, "", "track", "--region", "mars", "--user", "1", "--event", "E"); r.code != exitUsage || !strings.Contains(r.stderr, "--region") {
		t.Errorf("bad region: %s", r)
	}
	t.Setenv("CDP_API_KEY", "")
	var out, errb strings.Builder
	if code := run([]string{"track", "--endpoint", srv.URL, "--user", "1", "--event", "E"}, strings.NewReader(""), &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "CDP_API_KEY") {
		t.Errorf("no key: exit %d, %s", code, errb.String())
	}
}

func TestSendFromArgumentAndStdin(t *testing.T) {
	srv := newServer(t)
	msg := `{"type":"track","userId":"42","event":"Signed Up","properties":{"plan":"pro"}}`
	if r := cdp(t, "", "send", "--endpoint", srv.URL, msg); r.code != exitOK {
		t.Fatalf("argument: %s", r)
	}
	if r := cdp(t, msg, "send", "--endpoint", srv.URL); r.code != exitOK {
		t.Fatalf("stdin: %s", r)
	}
	if r := cdp(t, `{"type":"track","userId":"42"}`, "send", "--endpoint", srv.URL, "-"); r.code != exitInvalid {
		t.Fatalf("invalid message: %s", r)
	}
	got := srv.ByEvent("Signed Up")
	if len(got) != 2 || got[0].Properties["plan"] != "pro" {
		t.Fatalf("got %v", got)
	}
}

func TestKeyFromFile(t *testing.T) {
	srv := newServer(t)
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(testKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CDP_API_KEY", "")
	var out, errb strings.Builder
	code := run([]string{"track", "--key-file", keyFile, "--endpoint", srv.URL, "--user", "1", "--event", "E"}, strings.NewReader(""), &out, &errb)
	if code != exitOK || len(srv.Messages()) != 1 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

// TestKeyNeverShown runs the command in every way that prints help,
// errors or progress, with a key the API refuses, and looks for the key
// (and the Authorization value made from it) in what it printed.
func TestKeyNeverShown(t *testing.T) {
	const secret = "sk-live-SECRET-7f3a9c"
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey("another-key"))
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	file := importFile(t, 20, map[int]badKind{2: noType})
	people := writeFile(t, "p.txt", "a@example.com\n")
	runs := [][]string{
		{"--help"}, {"help", "import"},
		{"track", "--endpoint", srv.URL, "--user", "1", "--event", "E"},
		{"import", "--endpoint", srv.URL, file},
		{"import", "--endpoint", srv.URL, "--key-file", keyFile, file},
		{"delete-people", "--yes", "--endpoint", srv.URL, people},
		{"send", "--endpoint", "http://example.com/v1", `{"type":"track","userId":"1","event":"E"}`},
		{"track", "--endpoint", "::bad", "--user", "1", "--event", "E"},
		{"import", "--bad", "/nonexistent/dir/bad", "--endpoint", srv.URL, file},
		// The key given as the file's name by mistake.
		{"track", "--key-file", secret, "--endpoint", srv.URL, "--user", "1", "--event", "E"},
		{"import", "--key-file", secret, "--endpoint", srv.URL, file},
		{"import", "--verbose", "--endpoint", srv.URL, file},
		{"import", "--json", "--endpoint", srv.URL, file},
		{"track", "--json", "--verbose", "--endpoint", srv.URL, "--user", "1", "--event", "E"},
		{"delete-people", "--dry-run", "--json", people},
		{"version", "--json"},
	}
	for _, c := range commands {
		runs = append(runs, []string{c.name, "--help"})
	}
	for _, args := range runs {
		t.Setenv("CDP_API_KEY", secret)
		var out, errb strings.Builder
		code := run(args, strings.NewReader(""), &out, &errb)
		all := out.String() + errb.String()
		if strings.Contains(all, secret) || strings.Contains(all, base64.StdEncoding.EncodeToString([]byte(secret+":"))) {
			t.Errorf("cdp %v (exit %d) printed the key:\n%s", args, code, all)
		}
		if len(args) == 2 && args[1] == "--help" && (code != exitOK || strings.Count(out.String(), "Usage:") != 1 || errb.Len() != 0) {
			t.Errorf("cdp %v: exit %d, want the usage once on stdout and nothing on stderr; stdout:\n%s\nstderr:\n%s", args, code, out.String(), errb.String())
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("the fake accepted %d messages with the wrong key", n)
	}
}
