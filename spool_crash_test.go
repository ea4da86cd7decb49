//go:build unix

package analytics_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

// The crash child's environment: the spool directory, the flaky API's URL,
// and the rep (for distinct message ids).
const (
	crashDirEnv = "ANALYTICS_SPOOL_CRASH_DIR"
	crashURLEnv = "ANALYTICS_SPOOL_CRASH_URL"
	crashRepEnv = "ANALYTICS_SPOOL_CRASH_REP"
)

// Batches in flight in the child: at most crashInFlight batches of
// crashBatch messages can be delivered and not yet acknowledged when it
// dies, which bounds the duplicates.
const (
	crashBatch    = 20
	crashInFlight = 2
	crashMessages = 3000
)

// TestSpoolCrashChild is the crashing process of TestSpoolCrash, run by it
// as a child; on its own it skips. It enqueues messages with a spool and
// prints "ok <id>" on stdout after each Enqueue that returned nil, until
// it is killed.
func TestSpoolCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestSpoolCrash")
	}
	c, err := analytics.New(spoolKey,
		analytics.WithEndpoint(os.Getenv(crashURLEnv)),
		analytics.WithLogger(slog.New(slog.DiscardHandler)),
		analytics.WithSpool(dir), analytics.WithSpoolSegmentBytes(32<<10),
		analytics.WithBatchSize(crashBatch), analytics.WithMaxInFlight(crashInFlight),
		analytics.WithFlushInterval(5*time.Millisecond),
		analytics.WithRetryWait(time.Millisecond, 3*time.Millisecond),
		analytics.WithMaxAttempts(100))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	out := bufio.NewWriterSize(os.Stdout, 64)
	rep := os.Getenv(crashRepEnv)
	for i := range crashMessages {
		id := fmt.Sprintf("c%s-%05d", rep, i)
		if err := c.Enqueue(spoolTrack(id, i)); err != nil {
			fmt.Fprintln(out, "refused", id, err)
		} else {
			fmt.Fprintln(out, "ok", id)
		}
		out.Flush() // the parent learns of it only after Enqueue returned
		if i%50 == 0 {
			time.Sleep(time.Millisecond) // let the senders run
		}
	}
	fmt.Fprintln(out, "done")
	out.Flush()
	time.Sleep(time.Minute) // wait to be killed
	os.Exit(3)
}

// TestSpoolCrash: a child process enqueues with a spool against a flaky
// API and is killed with SIGKILL at a random point; a client restarted on
// the same directory against a healthy fake then delivers every message
// whose Enqueue returned nil (checked by messageId), with duplicates
// bounded by the batches in flight.
func TestSpoolCrash(t *testing.T) {
	t.Parallel()
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("in the child")
	}
	reps := 20
	if testing.Short() {
		reps = 3
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 12))
	totalDup, totalOK := 0, 0
	for rep := range reps {
		dir := t.TempDir()
		flaky := analyticstest.NewServer(t, analyticstest.WithAPIKey(spoolKey))
		var answers []analyticstest.Response
		for range 2000 {
			switch rng.IntN(4) {
			case 0:
				answers = append(answers, analyticstest.Response{Status: 503})
			case 1:
				answers = append(answers, analyticstest.Response{Delay: time.Duration(rng.IntN(20)) * time.Millisecond})
			default:
				answers = append(answers, analyticstest.Response{})
			}
		}
		flaky.Script(answers...)
		killAfter := 1 + rng.IntN(crashMessages)

		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, exe, "-test.run=^TestSpoolCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashURLEnv+"="+flaky.URL, crashRepEnv+"="+strconv.Itoa(rep))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := map[string]bool{}
		sc := bufio.NewScanner(stdout)
		killed := false
		for sc.Scan() {
			line := sc.Text()
			if id, ok := strings.CutPrefix(line, "ok "); ok {
				acked[id] = true
			} else if strings.HasPrefix(line, "error") {
				t.Fatalf("child: %s", line)
			}
			if !killed && (len(acked) >= killAfter || line == "done") {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		}
		_ = cmd.Wait() // killed: the rest of stdout was read above
		timedOut := ctx.Err() != nil
		cancel()
		flaky.Close()
		if timedOut {
			t.Fatalf("rep %d: the child ran out of time", rep)
		}
		before := acceptedIDs(flaky)

		up := analyticstest.NewServer(t, analyticstest.WithAPIKey(spoolKey))
		c := newSpoolClient(t, up.URL, dir, analytics.WithSpoolSegmentBytes(32<<10))
		if err := flushWithin(t, c, 20*time.Second); err != nil {
			t.Fatalf("rep %d: Flush after the restart: %v", rep, err)
		}
		st := c.Stats()
		if err := c.Close(); err != nil {
			t.Fatalf("rep %d: Close: %v", rep, err)
		}
		after := acceptedIDs(up)
		dup := 0
		for id := range acked {
			n := before[id] + after[id]
			if n == 0 {
				t.Errorf("rep %d (kill after %d): %s was accepted by Enqueue and never arrived", rep, killAfter, id)
			}
			dup += max(n-1, 0)
		}
		if limit := crashBatch * crashInFlight; dup > limit {
			t.Errorf("rep %d: %d duplicates, want at most the %d messages of the batches in flight", rep, dup, limit)
		}
		if st.SpoolRecovered < int64(len(after)) {
			t.Errorf("rep %d: SpoolRecovered %d, but %d messages were re-sent", rep, st.SpoolRecovered, len(after))
		}
		totalDup += dup
		totalOK += len(acked)
	}
	t.Logf("%d reps, %d messages accepted by Enqueue, %d duplicates after the crashes", reps, totalOK, totalDup)
}

const fsizeDirEnv = "ANALYTICS_SPOOL_FSIZE_DIR"

// TestSpoolWriteErrorChild is the process of TestSpoolWriteError, run by it
// as a child under a file size limit; on its own it skips.
func TestSpoolWriteErrorChild(t *testing.T) {
	dir := os.Getenv(fsizeDirEnv)
	if dir == "" {
		t.Skip("run by TestSpoolWriteError")
	}
	// The kernel refuses writes past 100,000 bytes with EFBIG (Go ignores
	// SIGXFSZ), as a full disk refuses them with ENOSPC.
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 100_000, Max: 100_000}); err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	c, err := analytics.New(spoolKey, analytics.WithEndpoint("http://127.0.0.1:1"),
		analytics.WithLogger(slog.New(slog.DiscardHandler)), analytics.WithSpool(dir),
		analytics.WithFlushInterval(time.Hour))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	for i := range 10_000 {
		if err := c.Enqueue(spoolTrack(fmt.Sprintf("w-%05d", i), i)); err != nil {
			fmt.Printf("accepted %d\nrefused %v\nwriteErrors %d\n", i, err, c.Stats().SpoolWriteErrors)
			os.Exit(0)
		}
	}
	fmt.Println("error: no write failed")
	os.Exit(2)
}

// TestSpoolWriteError: when the spool cannot write (a full disk, a file
// size limit), Enqueue returns the write error, counted, and accepts
// nothing silently; what it accepted before is intact and sent by the
// next client, with no torn record left behind.
func TestSpoolWriteError(t *testing.T) {
	t.Parallel()
	if os.Getenv(fsizeDirEnv) != "" {
		t.Skip("in the child")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^TestSpoolWriteErrorChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), fsizeDirEnv+"="+dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var accepted, writeErrors int
	var refused string
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "accepted "); ok {
			accepted, _ = strconv.Atoi(v)
		}
		if v, ok := strings.CutPrefix(line, "refused "); ok {
			refused = v
		}
		if v, ok := strings.CutPrefix(line, "writeErrors "); ok {
			writeErrors, _ = strconv.Atoi(v)
		}
	}
	if accepted < 100 || !strings.Contains(refused, "file too large") || !strings.Contains(refused, "spool") || writeErrors != 1 {
		t.Fatalf("child accepted %d, then Enqueue returned %q, SpoolWriteErrors %d; want the write error, counted\n%s", accepted, refused, writeErrors, out)
	}
	got, st := drainSpool(t, dir)
	if len(got) != accepted || st.SpoolTorn != 0 || st.SpoolDamaged != 0 {
		t.Errorf("the next client sent %d (SpoolTorn %d, SpoolDamaged %d), want the %d accepted and nothing torn",
			len(got), st.SpoolTorn, st.SpoolDamaged, accepted)
	}
	for i := range accepted {
		if id := fmt.Sprintf("w-%05d", i); got[id] != 1 {
			t.Fatalf("%s arrived %d times, want once", id, got[id])
		}
	}
}
