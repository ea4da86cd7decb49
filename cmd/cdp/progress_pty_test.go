package main

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/creack/pty"
)

// ptyOutput collects what a process writes to a pseudo-terminal.
type ptyOutput struct {
	mu   sync.Mutex
	b    bytes.Buffer
	seen chan struct{} // closed once the text holds want
	want string
	done chan struct{} // closed when the terminal is closed
}

func (o *ptyOutput) read(master *os.File) {
	defer close(o.done)
	buf := make([]byte, 4096)
	for {
		n, err := master.Read(buf)
		o.mu.Lock()
		o.b.Write(buf[:n])
		if o.seen != nil && strings.Contains(o.b.String(), o.want) {
			close(o.seen)
			o.seen = nil
		}
		o.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (o *ptyOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// TestProgressBarFitsA80ColumnTerminal runs the real command (this test
// binary as main, see TestMain) with stderr on a pseudo-terminal of 80
// columns: every redraw of the bar fits on the line (no wrapping), and at
// the end a final line keeps the counts, the elapsed time and the rate.
func TestProgressBarFitsA80ColumnTerminal(t *testing.T) {
	const cols = 80
	release := make(chan struct{})
	srv := newServer(t)
	// The first batch is held until the test has seen the bar drawn, so
	// that the run cannot end before it is.
	srv.Script(analyticstest.Response{Hold: release})
	file := importFile(t, 3000, map[int]badKind{5: noType})

	master, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer master.Close()
	if err := pty.Setsize(master, &pty.Winsize{Rows: 24, Cols: cols}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "import", "--workers", "1", "--batch-size", "100", "--endpoint", srv.URL, file)
	cmd.Env = append(os.Environ(), "CDP_TEST_MAIN=1", "CDP_API_KEY="+testKey)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // the child holds it now
	out := &ptyOutput{seen: make(chan struct{}), want: "lines/s", done: make(chan struct{})}
	seen := out.seen
	go out.read(master)
	select {
	case <-seen:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("no bar drawn in 20 s; the terminal shows %q", out.String())
	}
	close(release)
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if code := cmd.ProcessState.ExitCode(); code != exitInvalid {
			t.Fatalf("exit %d (%v), want 1 for the invalid line; stdout:\n%s", code, err, stdout.String())
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the import did not end in 60 s")
	}
	select {
	case <-out.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal was not closed")
	}

	screen := strings.ReplaceAll(out.String(), "\x1b[K", "")
	frames := regexp.MustCompile(`\r\n|\r|\n`).Split(screen, -1)
	bars, reports := 0, 0
	for _, f := range frames {
		switch {
		case strings.Contains(f, "lines/s"): // the bar, or the final line
			if n := utf8.RuneCountInString(f); n > cols-1 {
				t.Errorf("a progress line of %d columns on a terminal of %d wraps: %q", n, cols, f)
			}
			if strings.Contains(f, "%") {
				bars++
			}
		case strings.Contains(f, "type: missing"):
			// The report of the bad line is a line of its own, not glued
			// to the bar.
			if !strings.HasPrefix(f, file+":5: ") {
				t.Errorf("the bad line's report shares a line: %q", f)
			}
			reports++
		}
	}
	if reports != 1 {
		t.Errorf("%d reports of the bad line, want 1: %q", reports, screen)
	}
	if bars == 0 {
		t.Errorf("no bar with a percentage and a rate: %q", screen)
	}
	final := regexp.MustCompile(`(?m)^cdp: read 3000, delivered 2999, failed 0, invalid 1 in [0-9.]+(µs|ms|s|m[0-9.]+s), \d+ lines/s$`)
	if !final.MatchString(strings.ReplaceAll(screen, "\r", "\n")) {
		t.Errorf("no final line with the counts, the elapsed time and the rate: %q", screen)
	}
	if !strings.Contains(stdout.String(), "delivered      2999") {
		t.Errorf("summary:\n%s", stdout.String())
	}
}
