package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/benchmarks"
)

// unit is one measurement, run in a child process once per round. Its
// name (String) is its identity in the tables and the -unit flag.
type unit struct {
	kind      string // events, startup, tail, enqueue, queue-e2e
	client    string // events, startup, tail; "empty" for the bare process
	n         int    // events or calls
	rate      float64
	producers int
	mode      benchmarks.QueueMode
}

func (u unit) String() string {
	switch u.kind {
	case "events", "startup":
		return fmt.Sprintf("%s:%s:%d", u.kind, u.client, u.n)
	case "tail":
		return fmt.Sprintf("tail:%s:%d:%g:%d", u.client, u.producers, u.rate, u.n)
	default:
		return fmt.Sprintf("%s:%s:%d:%d", u.kind, u.mode, u.producers, u.n)
	}
}

// parseUnit is the inverse of String.
func parseUnit(s string) (unit, error) {
	f := strings.Split(s, ":")
	bad := fmt.Errorf("bad unit %q", s)
	atoi := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			bad = errors.Join(bad, err)
		}
		return n
	}
	var u unit
	switch {
	case len(f) == 3 && (f[0] == "events" || f[0] == "startup"):
		u = unit{kind: f[0], client: f[1], n: atoi(f[2])}
	case len(f) == 5 && f[0] == "tail":
		rate, err := strconv.ParseFloat(f[3], 64)
		if err != nil {
			return u, bad
		}
		u = unit{kind: "tail", client: f[1], producers: atoi(f[2]), rate: rate, n: atoi(f[4])}
	case len(f) == 4 && (f[0] == "enqueue" || f[0] == "queue-e2e"):
		u = unit{kind: f[0], mode: benchmarks.QueueMode(f[1]), producers: atoi(f[2]), n: atoi(f[3])}
	default:
		return u, bad
	}
	return u, nil
}

// needsSink reports whether the unit sends to a sink.
func (u unit) needsSink() bool {
	return u.kind != "enqueue" && u.client != "empty"
}

// units returns every unit of a round, in table order.
func units(s *settings) []unit {
	want := func(group string) bool {
		if s.only == "" {
			return true
		}
		for _, g := range strings.Split(s.only, ",") {
			if g == group {
				return true
			}
		}
		return false
	}
	var us []unit
	if want("events") {
		for _, c := range []string{"cdpkit", "segment", "floor", "oldfloor", cdpkitDefaults} {
			us = append(us, unit{kind: "events", client: c, n: s.n})
		}
		for _, c := range []string{"cdpkit", "floor", "oldfloor"} {
			us = append(us, unit{kind: "events", client: c, n: s.n2})
		}
	}
	if want("startup") {
		for _, c := range []string{"cdpkit", "segment", "floor", "empty"} {
			us = append(us, unit{kind: "startup", client: c, n: s.startup})
		}
	}
	if want("tail") {
		paced := int(s.tailRate * s.tailSeconds)
		for _, c := range []string{"cdpkit", "segment", "floor"} {
			us = append(us, unit{kind: "tail", client: c, producers: s.producers, rate: s.tailRate, n: paced})
			us = append(us, unit{kind: "tail", client: c, producers: s.producers, n: s.tailCalls})
		}
	}
	for _, kind := range []string{"enqueue", "queue-e2e"} {
		if !want(kind) {
			continue
		}
		for _, m := range benchmarks.QueueModes {
			for _, p := range []int{1, 4, 8} {
				n := s.enqueueN
				switch {
				case kind == "enqueue" && m == benchmarks.QueueSpoolSync0:
					n = s.enqueueSync0N
				case kind == "queue-e2e" && m == benchmarks.QueueSpoolSync0:
					n = s.e2eSync0N
				case kind == "queue-e2e":
					n = s.e2eN
				}
				us = append(us, unit{kind: kind, mode: m, producers: p, n: n})
			}
		}
	}
	return us
}

// childResult is what a child prints: the figures of its kind.
type childResult struct {
	// events, startup: from before New to Close's return, in the child.
	CPUNs   int64  `json:"cpu_ns,omitempty"`
	MinFlt  int64  `json:"minflt,omitempty"`
	Mallocs uint64 `json:"mallocs,omitempty"`
	Bytes   uint64 `json:"bytes,omitempty"`

	// tail, enqueue, queue-e2e: latencies of the accepted calls, ns.
	P50     int64   `json:"p50,omitempty"`
	P99     int64   `json:"p99,omitempty"`
	P999    int64   `json:"p999,omitempty"`
	Max     int64   `json:"max,omitempty"`
	MeanNs  float64 `json:"mean_ns,omitempty"`
	Calls   int64   `json:"calls,omitempty"`
	Refused int64   `json:"refused,omitempty"`
	WallNs  int64   `json:"wall_ns,omitempty"`
	// tail: how late the paced calls started, and what timing a call
	// costs (two clock reads).
	LateP50    int64 `json:"late_p50,omitempty"`
	LateP99    int64 `json:"late_p99,omitempty"`
	ClockNs    int64 `json:"clock_ns,omitempty"`
	ClockMinNs int64 `json:"clock_min_ns,omitempty"`
}

// sample is one unit's figures in one round.
type sample struct {
	Child   childResult
	Process benchmarks.Usage // the child's whole process, from wait4
	Sink    benchmarks.SinkStats
}

// runChild runs one unit in this process (the child's side) and prints
// its result as JSON.
func runChild(kind, name, url, profile string) error {
	if kind == "sink" {
		return benchmarks.ServeSink(os.Stdin, os.Stdout)
	}
	u, err := parseUnit(name)
	if err != nil {
		return err
	}
	if u.kind != kind {
		return fmt.Errorf("role %s, unit %s", kind, name)
	}
	if u.client == "empty" {
		return json.NewEncoder(os.Stdout).Encode(childResult{})
	}
	if profile != "" {
		stop, err := benchmarks.StartCPUProfile(profile)
		if err != nil {
			return err
		}
		defer stop()
	}
	var r childResult
	switch u.kind {
	case "events", "startup":
		r, err = runEvents(u, url)
	case "tail":
		r, err = runTail(u, url)
	case "enqueue":
		var c benchmarks.EnqueueCost
		dir, _ := os.LookupEnv("SCORECARD_DIR")
		c, err = benchmarks.RunEnqueue(u.mode, u.producers, u.n, dir)
		r = costResult(c)
	case "queue-e2e":
		var c benchmarks.EnqueueCost
		dir, _ := os.LookupEnv("SCORECARD_DIR")
		c, err = benchmarks.RunQueueE2E(u.mode, u.producers, u.n, dir, url)
		r = costResult(c)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// cdpkitDefaults is the events unit's name for cdpkit with every default
// of its own, its batch size (1,000) included, where every other row
// gives every client 250 (Segment's default).
const cdpkitDefaults = "cdpkit-defaults"

// runEvents sends u.n Track events from one goroutine and closes the
// client, measuring from before New.
func runEvents(u unit, url string) (childResult, error) {
	name, opts := u.client, benchmarks.ClientOptions{}
	if name == cdpkitDefaults {
		name, opts.Batch = "cdpkit", analytics.DefaultBatchSize
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	u0 := benchmarks.SelfUsage()
	c, err := benchmarks.NewClientWith(name, url, opts)
	if err != nil {
		return childResult{}, err
	}
	for range u.n {
		if err := c.Track3(); err != nil {
			return childResult{}, err
		}
	}
	if err := c.Close(); err != nil {
		return childResult{}, err
	}
	u1 := benchmarks.SelfUsage()
	runtime.ReadMemStats(&m1)
	return childResult{CPUNs: int64(u1.CPU - u0.CPU), MinFlt: u1.MinFlt - u0.MinFlt,
		Mallocs: m1.Mallocs - m0.Mallocs, Bytes: m1.TotalAlloc - m0.TotalAlloc}, nil
}

// runTail runs the tail benchmark on one client.
func runTail(u unit, url string) (childResult, error) {
	c, err := benchmarks.NewClientWith(u.client, url, benchmarks.ClientOptions{Refuse: true})
	if err != nil {
		return childResult{}, err
	}
	clock, least := benchmarks.ClockCost(100_000)
	t := benchmarks.RunTail(benchmarks.TailConfig{Producers: u.producers, Rate: u.rate, Calls: u.n}, c.Track3)
	if err := c.Close(); err != nil {
		return childResult{}, err
	}
	l := &t.Latency
	return childResult{P50: int64(l.Quantile(0.5)), P99: int64(l.Quantile(0.99)), P999: int64(l.Quantile(0.999)),
		Max: l.Max, Calls: t.Calls, Refused: t.Refused, WallNs: int64(t.Wall),
		LateP50: int64(t.Lateness.Quantile(0.5)), LateP99: int64(t.Lateness.Quantile(0.99)),
		ClockNs: int64(clock), ClockMinNs: int64(least)}, nil
}

func costResult(c benchmarks.EnqueueCost) childResult {
	l := &c.Latency
	r := childResult{P50: int64(l.Quantile(0.5)), P99: int64(l.Quantile(0.99)), P999: int64(l.Quantile(0.999)),
		Max: l.Max, Calls: c.Calls, Refused: c.Refused, WallNs: int64(c.Wall), CPUNs: int64(c.CPU),
		Mallocs: c.Mallocs, Bytes: c.Bytes}
	r.MeanNs = float64(l.Mean())
	return r
}

// runUnit runs u in a child process (with a sink process if it needs one)
// and returns its figures.
func runUnit(self string, s *settings, u unit, profile string) (sample, error) {
	var smp sample
	var sk *benchmarks.SinkProcess
	url := ""
	if u.needsSink() {
		var err error
		if sk, err = benchmarks.StartSinkProcess(self); err != nil {
			return smp, err
		}
		url = sk.URL
	}
	args := []string{"-role", u.kind, "-unit", u.String(), "-url", url}
	if profile != "" {
		args = append(args, "-profile", profile)
	}
	cl := exec.Command(self, args...)
	cl.Stderr = os.Stderr
	cl.Env = append(os.Environ(), "SCORECARD_DIR="+s.dir)
	out, cerr := cl.Output()
	if cl.ProcessState != nil {
		if ru, ok := cl.ProcessState.SysUsage().(*syscall.Rusage); ok {
			smp.Process = benchmarks.RusageUsage(ru)
		}
	}
	if sk != nil {
		var err error
		if smp.Sink, err = sk.Stop(); err != nil {
			return smp, err
		}
	}
	if cerr != nil {
		return smp, fmt.Errorf("%s: %w", u, cerr)
	}
	if err := json.Unmarshal(out, &smp.Child); err != nil {
		return smp, fmt.Errorf("%s: %w", u, err)
	}
	return smp, checkSample(u, smp)
}

// checkSample refuses a round whose client did not deliver what it
// accepted, or whose sink saw a request it could not count.
func checkSample(u unit, s sample) error {
	if s.Sink.Bad != 0 {
		return fmt.Errorf("%s: the sink got %d bad requests", u, s.Sink.Bad)
	}
	want := int64(-1)
	switch u.kind {
	case "events", "startup", "queue-e2e":
		if u.client != "empty" {
			want = int64(u.n)
		}
	case "tail":
		want = s.Child.Calls - s.Child.Refused
	}
	if want >= 0 && s.Sink.Events != want {
		return fmt.Errorf("%s: the sink counted %d events, want %d", u, s.Sink.Events, want)
	}
	return nil
}

// loadAverage returns the first field of /proc/loadavg, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// since is a short duration for the progress lines.
func since(t time.Time) string { return time.Since(t).Round(time.Second).String() }
