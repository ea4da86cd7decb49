package benchmarks

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	analytics "github.com/cdpkit/analytics-go"
)

// The import benchmark: the command cdp (cmd/cdp) imports a file of Track
// lines into the sink, and the library's own EnqueueContext sends the same
// Tracks, built as maps, in another process of the same run. Both
// processes are measured from the outside (wait4's rusage): CPU, peak RSS
// and wall time. The ratio of the two CPU costs per event is what the
// command adds to the library; it does not depend on the machine's speed
// as the absolute figures do.

// importUsers is how many distinct userIds the import lines cycle through.
const importUsers = 5000

// importTimestamp is every import line's timestamp.
var importTimestamp = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// AppendImportLine appends line i (from 1) of the import file: a track
// call with four properties, in the API's JSON shape, and a newline.
func AppendImportLine(dst []byte, i int) []byte {
	dst = append(dst, `{"type":"track","userId":"user-`...)
	dst = strconv.AppendInt(dst, int64(i%importUsers), 10)
	dst = append(dst, `","event":"Order Completed","properties":{"n":`...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	dst = append(dst, `,"order_id":"o-`...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	dst = append(dst, `","total":`...)
	dst = strconv.AppendInt(dst, int64(i%300), 10)
	dst = append(dst, `.5,"currency":"USD"},"timestamp":"2026-01-02T03:04:05Z"}`+"\n"...)
	return dst
}

// WriteImportFile writes the n lines of the import file to path.
func WriteImportFile(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var line []byte
	for i := 1; i <= n; i++ {
		line = AppendImportLine(line[:0], i)
		if _, err := w.Write(line); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// importUserIDs are the userIds of the lines, made once as a service
// holds its ids.
var importUserIDs = func() []string {
	ids := make([]string, importUsers)
	for i := range ids {
		ids[i] = "user-" + strconv.Itoa(i)
	}
	return ids
}()

// ImportTrack is line i of the import file as a user of the library builds
// it: a Track with a map of properties.
func ImportTrack(i int) analytics.Track {
	return analytics.Track{
		UserID: importUserIDs[i%importUsers],
		Event:  "Order Completed",
		Properties: analytics.Properties{
			"n":        i,
			"order_id": "o-" + strconv.Itoa(i),
			"total":    float64(i%300) + 0.5,
			"currency": "USD",
		},
		Timestamp: importTimestamp,
	}
}

// EnqueueImportTracks sends the n Tracks of the import file to the API at
// endpoint with the library, as cdp import sends by default: batches of
// analytics.DefaultBatchSize, analytics.DefaultMaxInFlight at once,
// EnqueueContext waiting for room. It returns when Close has delivered
// them all.
func EnqueueImportTracks(endpoint string, n int) error {
	c, err := analytics.New(apiKey,
		analytics.WithEndpoint(endpoint),
		analytics.WithHTTPClient(&http.Client{Transport: newTransport()}),
		analytics.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		return err
	}
	ctx := context.Background()
	for i := 1; i <= n; i++ {
		if err := c.EnqueueContext(ctx, ImportTrack(i)); err != nil {
			_ = c.Close()
			return err
		}
	}
	return c.Close()
}

// ProcessCost is what one process of the benchmark used, as its parent
// saw it.
type ProcessCost struct {
	Wall     time.Duration
	CPU      time.Duration // user + system
	MaxRSSKB int64
}

// RunMeasured runs cmd to its end and returns what it used.
func RunMeasured(cmd *exec.Cmd) (ProcessCost, error) {
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return ProcessCost{}, fmt.Errorf("%s: %w", filepath.Base(cmd.Path), err)
	}
	ps := cmd.ProcessState
	c := ProcessCost{Wall: wall, CPU: ps.UserTime() + ps.SystemTime()}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		c.MaxRSSKB = ru.Maxrss
	}
	return c, nil
}

// BuildCDP builds the command cdp of this repository (../cmd/cdp from the
// benchmarks directory, with its go.work, so that it uses this tree's
// library) into dir and returns the binary's path.
func BuildCDP(dir string) (string, error) {
	src, err := filepath.Abs(filepath.Join("..", "cmd", "cdp"))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(src, "go.mod")); err != nil {
		return "", fmt.Errorf("run from the benchmarks directory: %w", err)
	}
	out := filepath.Join(dir, "cdp")
	if runtime.GOOS == "windows" {
		out += ".exe"
	}
	build := exec.Command("go", "build", "-o", out, ".")
	build.Dir = src
	if msg, err := build.CombinedOutput(); err != nil {
		return "", errors.Join(fmt.Errorf("go build cmd/cdp: %w", err), errors.New(string(msg)))
	}
	return out, nil
}

// ImportArgs are the arguments of the benchmark's cdp import of file into
// the API at endpoint: no progress, no rate limit (the benchmark measures
// the command, not the limiter), everything else at its default.
func ImportArgs(endpoint, file string) []string {
	return []string{"import", "--quiet", "--rate", "0", "--endpoint", endpoint, file}
}

// APICeiling is the Data Pipelines API's documented limit in events per
// second: 3,000 requests per 3 seconds, 1,000 messages per request.
const APICeiling = 1_000_000

// CoresToSaturate returns how many cores of this machine's speed cdp
// import needs to send APICeiling events per second at cpuPerEvent.
func CoresToSaturate(cpuPerEvent time.Duration) float64 {
	return APICeiling * cpuPerEvent.Seconds()
}

// APIKey is the key every benchmark client sends; the sink ignores it.
const APIKey = apiKey

// ServeSink is the sink process of the out-of-process runs (cmd/e2e,
// cmd/importbench): it starts a sink, writes its URL on a line to out,
// serves until in ends, and then writes its counters to out as JSON.
func ServeSink(in io.Reader, out io.Writer) error {
	s := StartSink()
	fmt.Fprintln(out, s.URL())
	_, _ = io.Copy(io.Discard, in)
	st := s.Stats()
	s.Close()
	return json.NewEncoder(out).Encode(st)
}
