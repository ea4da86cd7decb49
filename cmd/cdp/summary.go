package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// exitStatus is the status of a batch run that stopped for kind (stopNone:
// it read every input) with counts c.
func exitStatus(kind stopKind, c *counts) int {
	switch kind {
	case stopKey:
		return exitKey
	case stopNone:
		if c.invalid.Load() > 0 || c.failed.Load() > 0 {
			return exitInvalid
		}
		return exitOK
	}
	return exitStopped
}

var errInterrupted = errors.New("interrupted")

// stopReason says why a run stopped, for people.
func stopReason(kind stopKind, err error, cm *committer) string {
	where := ""
	if file, line, ok := cm.stuckAt(); ok {
		where = fmt.Sprintf("line %d of %s", line, cm.inputs[file].name)
	}
	switch kind {
	case stopKey:
		return fmt.Sprintf("the API refused the key (%s): check the key and --region; nothing from %s on was recorded as done",
			reason(err), orDefault(where, "the first line"))
	case stopUndelivered:
		if where != "" {
			return fmt.Sprintf("%s was not delivered: %s", where, reason(err))
		}
		return "a message was not delivered: " + reason(err)
	case stopInterrupted:
		return "interrupted"
	}
	return reason(err)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// trimLibraryPrefix drops the "analytics: " the library's errors start
// with: the command's own messages say "cdp: ".
func trimLibraryPrefix(s string) string {
	return strings.TrimPrefix(s, "analytics: ")
}

// report is the summary of a batch run.
type report struct {
	command  string
	flags    *sendFlags
	counts   *counts
	elapsed  time.Duration
	requests int64
	retries  int64
	ckpt     *checkpoint
	status   int
	stopped  string
}

// summaryJSON is the --json summary: one object on stdout.
type summaryJSON struct {
	Command        string          `json:"command"`
	DryRun         bool            `json:"dryRun"`
	Read           int64           `json:"read"`
	Delivered      int64           `json:"delivered"`
	Valid          *int64          `json:"valid,omitempty"`
	Failed         int64           `json:"failed"`
	Invalid        int64           `json:"invalid"`
	Skipped        int64           `json:"skipped"`
	Blank          int64           `json:"blank"`
	Unsent         int64           `json:"unsent"`
	Recent         int64           `json:"recent"`
	Requests       int64           `json:"requests"`
	Retries        int64           `json:"retries"`
	ElapsedSeconds float64         `json:"elapsedSeconds"`
	LinesPerSecond float64         `json:"linesPerSecond"`
	Bad            *string         `json:"bad"`
	Checkpoint     *checkpointJSON `json:"checkpoint"`
	Stopped        string          `json:"stopped,omitempty"`
	Exit           int             `json:"exit"`
}

type checkpointJSON struct {
	Path string `json:"path"`
	File string `json:"file,omitempty"`
	Line int64  `json:"line"`
	Done bool   `json:"done"`
}

// write writes the summary to stdout: a few aligned lines, or with --json
// one JSON object.
func (r *report) write(e *env) {
	c, f := r.counts, r.flags
	rate := 0.0
	if s := r.elapsed.Seconds(); s > 0 {
		rate = float64(c.read.Load()) / s
	}
	if f.conn.json {
		out := summaryJSON{Command: r.command, DryRun: f.dryRun, Read: c.read.Load(), Delivered: c.delivered.Load(),
			Failed: c.failed.Load(), Invalid: c.invalid.Load(), Skipped: c.skipped.Load(), Blank: c.blank.Load(),
			Unsent: c.unsent.Load(), Recent: c.recent.Load(), Requests: r.requests, Retries: r.retries,
			ElapsedSeconds: r.elapsed.Seconds(), LinesPerSecond: rate, Stopped: r.stopped, Exit: r.status}
		if f.dryRun {
			v := out.Delivered
			out.Valid, out.Delivered, out.Requests = &v, 0, 0
		}
		if f.bad != "" {
			out.Bad = &f.bad
		}
		if r.ckpt != nil {
			cj := &checkpointJSON{Path: f.checkpoint, Line: r.ckpt.Line, Done: r.ckpt.Done}
			if r.ckpt.File < len(r.ckpt.Inputs) {
				cj.File = r.ckpt.Inputs[r.ckpt.File]
			}
			out.Checkpoint = cj
		}
		enc := json.NewEncoder(e.stdout)
		_ = enc.Encode(out)
		return
	}
	w := e.stdout
	fmt.Fprintf(w, "cdp %s: %s read in %s", r.command, plural(c.read.Load(), "line"), roundElapsed(r.elapsed))
	if rate > 0 {
		fmt.Fprintf(w, " (%.0f lines/s)", rate)
	}
	fmt.Fprintln(w)
	if f.dryRun {
		fmt.Fprintf(w, "  valid          %d (dry run: nothing was sent)\n", c.delivered.Load())
	} else {
		fmt.Fprintf(w, "  delivered      %d\n", c.delivered.Load())
		fmt.Fprintf(w, "  not delivered  %d\n", c.failed.Load())
	}
	where := ""
	if f.bad != "" {
		where = " (see " + f.bad + ")"
	}
	fmt.Fprintf(w, "  invalid        %d%s\n", c.invalid.Load(), where)
	if n := c.skipped.Load(); n > 0 {
		fmt.Fprintf(w, "  skipped        %d (outside the time window)\n", n)
	}
	fmt.Fprintf(w, "  blank          %d\n", c.blank.Load())
	if n := c.unsent.Load(); n > 0 {
		fmt.Fprintf(w, "  not sent       %d (the run stopped first)\n", n)
	}
	if n := c.recent.Load(); n > 0 {
		fmt.Fprintf(w, "  recent         %d (events less than 72 hours old, or without a timestamp: they can trigger campaigns; see --skip-recent)\n", n)
	}
	if !f.dryRun {
		fmt.Fprintf(w, "  requests       %d (%d retries)\n", r.requests, r.retries)
	}
}

// plural returns "1 line" or "n lines".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// roundElapsed rounds d for people: to the millisecond, or the microsecond
// below one.
func roundElapsed(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(time.Millisecond)
}
