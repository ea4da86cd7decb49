package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdpkit/analytics-go/analyticstest"
)

// TestImportResumesAfterKill kills a real cdp process (this test binary
// running main) with SIGKILL while it imports, then runs the same command
// with the same checkpoint: every line is delivered; the lines delivered
// twice are exactly those past the checkpoint that the first run had
// delivered (the batch in flight, and those answered while the last
// checkpoint was being saved), sent again with the same messageIds; and
// they are fewer than the tracker's window.
func TestImportResumesAfterKill(t *testing.T) {
	srv := newServer(t)
	// Slow answers, so that the kill lands while a batch is in flight.
	srv.SetDefault(analyticstest.Response{Delay: 20 * time.Millisecond})
	const lines, batch = 5000, 100
	file := importFile(t, lines, nil)
	ck := filepath.Join(t.TempDir(), "import.checkpoint")
	args := []string{"import", "--quiet", "--workers", "1", "--decoders", "1", "--batch-size", "100", "--endpoint", srv.URL, "--checkpoint", ck, file}

	cmd := startCommand(t, args)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := srv.WaitForMessages(ctx, 1500); err != nil {
		_ = cmd.Process.Kill()
		t.Fatal(err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	firstRun := linesDelivered(t, srv)
	before := len(srv.Messages())
	if before >= lines {
		t.Fatalf("the first run delivered all %d lines before the kill; nothing to resume", before)
	}
	data, err := os.ReadFile(ck)
	if err != nil {
		t.Fatalf("no checkpoint after the kill: %v", err)
	}
	var c checkpoint
	if err := json.Unmarshal(data, &c); err != nil || c.Line == 0 || c.Done {
		t.Fatalf("checkpoint after the kill: %s (%v)", data, err)
	}

	r := rerun(t, args)
	if !strings.Contains(r.stderr, "resuming from the checkpoint") {
		t.Errorf("the re-run does not say it resumes:\n%s", r.stderr)
	}

	times := make(map[int]int)
	ids := make(map[int]map[string]bool)
	for _, m := range srv.Messages() {
		n := lineOf(t, m)
		times[n]++
		if ids[n] == nil {
			ids[n] = map[string]bool{}
		}
		ids[n][m.MessageID] = true
	}
	twice := 0
	for n := 1; n <= lines; n++ {
		want := 1
		if int64(n) > c.Line && firstRun[n] > 0 {
			want = 2 // past the checkpoint, and delivered by the first run
		}
		if times[n] != want {
			t.Errorf("line %d delivered %d times, want %d (checkpoint at line %d, delivered %d times by the first run)", n, times[n], want, c.Line, firstRun[n])
		}
		if times[n] == 2 {
			twice++
			if len(ids[n]) != 1 {
				t.Errorf("line %d sent again with another messageId: %v", n, ids[n])
			}
		}
	}
	if window := windowBatches * batch; twice > window {
		t.Errorf("%d lines delivered twice, more than the window of %d", twice, window)
	}
	t.Logf("first run delivered %d lines, checkpoint at line %d, %d delivered twice", before, c.Line, twice)

	// A third run finds the checkpoint done and sends nothing.
	sent := len(srv.Requests())
	if r := cdp(t, "", args...); r.code != exitOK || len(srv.Requests()) != sent {
		t.Errorf("a run after completion: %s", r)
	}
}

func TestCheckpointOfOtherInputsIsRefused(t *testing.T) {
	srv := newServer(t)
	ck := filepath.Join(t.TempDir(), "ck")
	a := importFile(t, 10, nil)
	if r := cdp(t, "", "import", "--endpoint", srv.URL, "--checkpoint", ck, a); r.code != exitOK {
		t.Fatalf("%s", r)
	}
	b := writeFile(t, "other.ndjson", `{"type":"track","userId":"1","event":"x"}`+"\n")
	r := cdp(t, "", "import", "--endpoint", srv.URL, "--checkpoint", ck, b)
	if r.code != exitUsage || !strings.Contains(r.stderr, "belongs to") {
		t.Fatalf("want a setup error:\n%s", r)
	}
}

// TestResumeCutsTheBadFileBackToTheCheckpoint: lines reported after the
// checkpoint are not reported twice by the re-run.
func TestResumeCutsTheBadFileBackToTheCheckpoint(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	ck, badFile := filepath.Join(dir, "ck"), filepath.Join(dir, "bad")
	file := importFile(t, 40, map[int]badKind{3: noType, 25: brokenJSON})
	// A checkpoint as a kill after line 20 leaves it: the bad file holds
	// line 3's record and a stale record past the checkpoint.
	first := `{"file":"x","line":3,"reason":"type: missing"}` + "\n"
	if err := os.WriteFile(badFile, []byte(first+`{"file":"x","line":25,"reason":"stale"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := checkpoint{Version: checkpointVersion, Command: "import", Inputs: []string{filepath.Clean(file)}, Run: "r1", Line: 20, BadBytes: int64(len(first))}
	if err := c.save(ck); err != nil {
		t.Fatal(err)
	}
	r := cdp(t, "", "import", "--endpoint", srv.URL, "--checkpoint", ck, "--bad", badFile, file)
	if r.code != exitInvalid {
		t.Fatalf("%s", r)
	}
	got := readLines(t, badFile)
	if len(got) != 2 || !strings.Contains(got[0], `"line":3`) || !strings.Contains(got[1], `"line":25`) || strings.Contains(got[1], "stale") {
		t.Errorf("bad file after resume:\n%s", strings.Join(got, "\n"))
	}
	if n := len(srv.Messages()); n != 19 {
		t.Errorf("resume after line 20 of 40 with one bad line sent %d, want 19", n)
	}
}

// TestInterruptedImportDeliversWhatWasEnqueuedAndResumes: an interrupt
// (SIGINT) stops reading, the round in progress is delivered, the
// checkpoint is written, and the re-run sends the rest, nothing twice.
func TestInterruptedImportDeliversWhatWasEnqueuedAndResumes(t *testing.T) {
	srv := newServer(t)
	srv.SetDefault(analyticstest.Response{Delay: 5 * time.Millisecond})
	const lines = 3000
	file := importFile(t, lines, nil)
	ck := filepath.Join(t.TempDir(), "ck")
	args := []string{"import", "--quiet", "--workers", "2", "--batch-size", "100", "--endpoint", srv.URL, "--checkpoint", ck, file}

	ctx := interruptAfter(t, srv, 500)
	t.Setenv("CDP_API_KEY", testKey)
	var out, errb strings.Builder
	code := runContext(ctx, &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: os.Getenv}, args)
	if code != exitStopped || !strings.Contains(errb.String(), "stopped: interrupted") {
		t.Fatalf("exit %d, want %d with the reason:\n%s", code, exitStopped, errb.String())
	}
	first := len(srv.Messages())
	if first < 500 || first >= lines {
		t.Errorf("the interrupted run delivered %d lines, want at least the 500 before the interrupt and not all", first)
	}
	if data, err := os.ReadFile(ck); err != nil || !strings.Contains(string(data), `"done":false`) {
		t.Errorf("checkpoint after the interrupt: %s (%v)", data, err)
	}

	rerun(t, args)
	seen := linesDelivered(t, srv)
	for n := 1; n <= lines; n++ {
		if seen[n] != 1 {
			t.Errorf("line %d delivered %d times", n, seen[n])
		}
	}
}

// TestResumeCSV: a CSV input resumes after the checkpoint's line, a quoted
// field spanning lines included.
func TestResumeCSV(t *testing.T) {
	srv := newServer(t)
	file := writeFile(t, "p.csv", "userId,traits.note\n1,a\n2,\"two\nlines\"\n3,c\n4,d\n")
	ck := filepath.Join(t.TempDir(), "ck")
	// Rows start on lines 2, 3, 5 and 6: the checkpoint says rows up to
	// line 4 (users 1 and 2) are done.
	c := checkpoint{Version: checkpointVersion, Command: "import", Inputs: []string{filepath.Clean(file)}, Run: "r", Line: 4}
	if err := c.save(ck); err != nil {
		t.Fatal(err)
	}
	r := cdp(t, "", "import", "--type", "identify", "--endpoint", srv.URL, "--checkpoint", ck, file)
	if r.code != exitOK {
		t.Fatalf("%s", r)
	}
	msgs := srv.Messages()
	if len(msgs) != 2 || msgs[0].UserID != "3" || msgs[0].Traits["note"] != "c" || msgs[1].UserID != "4" {
		t.Fatalf("sent %v", msgs)
	}
}

// TestKillDuringTheFirstRoundResendsItWithTheSameIDs kills a cdp process
// while the first batch it sent waits for its answer, before any round
// has ended: the re-run sends that batch again with the same messageIds,
// so the API can tell the copy from new events.
func TestKillDuringTheFirstRoundResendsItWithTheSameIDs(t *testing.T) {
	// The first batch is never answered: the process is killed while it
	// waits.
	srv := newHoldingServer(t, 1)

	file := importFile(t, 300, nil)
	ck := filepath.Join(t.TempDir(), "import.checkpoint")
	args := []string{"import", "--quiet", "--workers", "1", "--decoders", "1", "--batch-size", "100", "--endpoint", srv.URL + "/v1", "--checkpoint", ck, file}
	cmd := startCommand(t, args)
	select {
	case <-srv.arrived:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the first batch never arrived")
	}
	killAndRerun(t, cmd, args)
	requests := srv.requests()
	first := map[int]string{}
	for _, m := range requests[0] {
		first[m.line] = m.id
	}
	if len(first) != 100 {
		t.Fatalf("the first batch held %d lines, want 100", len(first))
	}
	again := 0
	for _, batch := range requests[1:] {
		for _, m := range batch {
			if id, ok := first[m.line]; ok {
				again++
				if m.id != id {
					t.Errorf("line %d sent again with messageId %s, first with %s", m.line, m.id, id)
				}
			}
		}
	}
	if again != 100 {
		t.Errorf("%d lines of the batch in flight at the kill were sent again, want its 100", again)
	}
}

// TestUnwritableCheckpointIsASetupError: a checkpoint that cannot be
// written stops the command before anything is sent.
func TestUnwritableCheckpointIsASetupError(t *testing.T) {
	srv := newServer(t)
	file := importFile(t, 10, nil)
	r := cdp(t, "", "import", "--endpoint", srv.URL, "--checkpoint", filepath.Join(t.TempDir(), "no", "such", "dir", "ck"), file)
	if r.code != exitUsage || !strings.Contains(r.stderr, "checkpoint") {
		t.Fatalf("want exit 2 naming the checkpoint:\n%s", r)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent before the checkpoint failed", n)
	}
}

// TestResumeWithANewBadFile: a re-run whose --bad file is shorter than the
// checkpoint recorded (removed, or another name) writes plain records to
// it, not zero bytes up to the recorded size.
func TestResumeWithANewBadFile(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	ck, badFile := filepath.Join(dir, "ck"), filepath.Join(dir, "bad")
	file := importFile(t, 40, map[int]badKind{25: brokenJSON})
	c := checkpoint{Version: checkpointVersion, Command: "import", Inputs: []string{filepath.Clean(file)}, Run: "r1", Line: 20, BadBytes: 500}
	if err := c.save(ck); err != nil {
		t.Fatal(err)
	}
	if r := cdp(t, "", "import", "--endpoint", srv.URL, "--checkpoint", ck, "--bad", badFile, file); r.code != exitInvalid {
		t.Fatalf("%s", r)
	}
	got := readLines(t, badFile)
	if len(got) != 1 || !strings.HasPrefix(got[0], `{"file":`) || !strings.Contains(got[0], `"line":25`) {
		t.Errorf("bad file after resume: %q", got)
	}
}

// TestCheckpointFollowsEachBatch: when a round of --workers × --batch-size
// messages goes out as several batches (here cut by the 500 KB request
// limit), the checkpoint moves past each batch as soon as it is answered,
// so a kill re-sends only the batch in flight, not the answered ones of
// its round.
func TestCheckpointFollowsEachBatch(t *testing.T) {
	// The second request is never answered.
	srv := newHoldingServer(t, 2)

	// 6 KB lines: a round of 100 is two requests, of about 80 and 20.
	var b strings.Builder
	pad := strings.Repeat("p", 6000)
	for n := 1; n <= 300; n++ {
		fmt.Fprintf(&b, `{"type":"track","userId":"u%d","event":"E","properties":{"n":%d,"pad":%q}}`+"\n", n, n, pad)
	}
	file := writeFile(t, "big.ndjson", b.String())
	ck := filepath.Join(t.TempDir(), "import.checkpoint")
	args := []string{"import", "--quiet", "--workers", "1", "--decoders", "1", "--batch-size", "100", "--endpoint", srv.URL + "/v1", "--checkpoint", ck, file}
	cmd := startCommand(t, args)
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	select {
	case <-srv.arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("the second batch never arrived")
	}
	firstBatch := srv.requests()[0]
	if len(firstBatch) >= 100 {
		t.Fatalf("the first request held %d lines; want the round cut in two by bytes", len(firstBatch))
	}
	// The first batch was answered: the checkpoint moves past it while
	// the second is in flight.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var c checkpoint
		data, _ := os.ReadFile(ck)
		if json.Unmarshal(data, &c) == nil && c.Line >= int64(len(firstBatch)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the checkpoint never moved past the answered first batch (line %d): %s", len(firstBatch), data)
		}
		time.Sleep(10 * time.Millisecond)
	}
	killAndRerun(t, cmd, args)
	requests := srv.requests()
	inFlight := map[int]bool{}
	for _, m := range requests[1] {
		inFlight[m.line] = true
	}
	times := map[int]int{}
	for _, batch := range requests {
		for _, m := range batch {
			times[m.line]++
		}
	}
	for n := 1; n <= 300; n++ {
		switch {
		case times[n] == 0:
			t.Errorf("line %d never sent", n)
		case times[n] > 1 && !inFlight[n]:
			t.Errorf("line %d sent %d times, though it was not in flight at the kill", n, times[n])
		}
	}
}

// TestSetupErrorLeavesNoCheckpoint: a run refused for its flags creates
// no checkpoint, so the corrected command is not taken for another run.
func TestSetupErrorLeavesNoCheckpoint(t *testing.T) {
	file := importFile(t, 10, nil)
	ck := filepath.Join(t.TempDir(), "ck")
	if r := cdp(t, "", "import", "--endpoint", "ftp://example.com", "--checkpoint", ck, file); r.code != exitUsage {
		t.Fatalf("want exit 2:\n%s", r)
	}
	if _, err := os.Stat(ck); !os.IsNotExist(err) {
		t.Errorf("a refused run left a checkpoint (%v)", err)
	}
}

// startCommand starts this test binary as the cdp command (see TestMain)
// with args and the test key, for a test that kills it mid-way.
func startCommand(t *testing.T, args []string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "CDP_TEST_MAIN=1", "CDP_API_KEY="+testKey)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// killAndRerun kills cmd (SIGKILL: no clean-up runs), waits for it, and
// runs the command again with the same args, which must succeed.
func killAndRerun(t *testing.T, cmd *exec.Cmd, args []string) {
	t.Helper()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	rerun(t, args)
}

// rerun runs the command again with args, which must exit 0.
func rerun(t *testing.T, args []string) result {
	t.Helper()
	r := cdp(t, "", args...)
	if r.code != exitOK {
		t.Fatalf("the re-run: %s", r)
	}
	return r
}

// linesDelivered counts, per input line, the messages srv received.
func linesDelivered(t *testing.T, srv *analyticstest.Server) map[int]int {
	t.Helper()
	seen := map[int]int{}
	for _, m := range srv.Messages() {
		seen[lineOf(t, m)]++
	}
	return seen
}

// sent is one message a holdingServer received: the line it came from
// (its properties.n or traits.n) and its messageId.
type sent struct {
	line int
	id   string
}

// holdingServer is an API that answers every request but one: the
// hold-th (counting from 1) is never answered, so that a test can kill the
// command while it waits. It records the messages of every request.
type holdingServer struct {
	URL string
	// arrived is closed when the held request comes in.
	arrived chan struct{}

	mu   sync.Mutex // guards reqs
	reqs [][]sent
}

// newHoldingServer starts a holdingServer that holds request hold; the
// held request is let go, and the server closed, when the test ends.
func newHoldingServer(t *testing.T, hold int) *holdingServer {
	s := &holdingServer{arrived: make(chan struct{})}
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Batch []struct {
				MessageID  string `json:"messageId"`
				Properties struct {
					N int `json:"n"`
				} `json:"properties"`
				Traits struct {
					N int `json:"n"`
				} `json:"traits"`
			} `json:"batch"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var batch []sent
		for _, m := range body.Batch {
			batch = append(batch, sent{m.Properties.N + m.Traits.N, m.MessageID})
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, batch)
		held := len(s.reqs) == hold
		s.mu.Unlock()
		if held {
			close(s.arrived)
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Write([]byte("{}"))
	}))
	s.URL = srv.URL
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: lets the held request go
	return s
}

// requests returns the messages of each request so far, in arrival order.
func (s *holdingServer) requests() [][]sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]sent(nil), s.reqs...)
}

// interruptAfter returns a context that is canceled, as SIGINT cancels the
// command's, once srv has received n messages (or after 10 seconds
// without).
func interruptAfter(t *testing.T, srv *analyticstest.Server, n int) context.Context {
	ctx, interrupt := context.WithCancel(context.Background())
	t.Cleanup(interrupt)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := srv.WaitForMessages(wctx, n); err == nil {
			interrupt()
		}
	}()
	return ctx
}
