package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/cdpkit/analytics-go/benchmarks"
)

// runParent runs every unit once a round, in a rotated order, and prints
// the tables.
func runParent(s *settings) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	us := units(s)
	if len(us) == 0 {
		return fmt.Errorf("no unit in -only %q", s.only)
	}
	run := &results{s: s, samples: map[string][]sample{}, start: time.Now()}
	for r := range s.rounds {
		shift := r * len(us) / s.rounds
		order := append(slices.Clone(us[shift:]), us[:shift]...)
		load := loadAverage()
		fmt.Fprintf(os.Stderr, "round %d of %d (%d units, load average %s, %s so far)\n", r+1, s.rounds, len(us), load, since(run.start))
		for _, u := range order {
			profile := ""
			if s.cpuProfile != "" && r == s.rounds-1 {
				profile = s.cpuProfile + "-" + strings.NewReplacer(":", "-", ".", "_").Replace(u.String()) + ".prof"
			}
			smp, err := runUnit(self, s, u, profile)
			if err != nil {
				return err
			}
			run.samples[u.String()] = append(run.samples[u.String()], smp)
		}
		run.loads = append(run.loads, load)
	}
	run.loads = append(run.loads, loadAverage())
	run.end = time.Now()
	if s.raw != "" {
		b, err := json.MarshalIndent(run.samples, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(s.raw, b, 0o644); err != nil {
			return err
		}
	}
	run.print(os.Stdout)
	return nil
}

// results are the samples of a run, by unit name, one a round.
type results struct {
	s          *settings
	samples    map[string][]sample
	loads      []string // the load average at the start of each round, and at the end
	start, end time.Time
}

// series returns f of u's sample in each round, or nil if u did not run.
func (r *results) series(u unit, f func(sample) float64) []float64 {
	ss := r.samples[u.String()]
	if len(ss) == 0 {
		return nil
	}
	xs := make([]float64, len(ss))
	for i, s := range ss {
		xs[i] = f(s)
	}
	return xs
}

// ratio returns a[i]/b[i] for each round.
func ratio(a, b []float64) []float64 {
	return roundByRound(a, b, func(x, y float64) float64 { return x / y })
}

// diff returns a[i]-b[i] for each round.
func diff(a, b []float64) []float64 {
	return roundByRound(a, b, func(x, y float64) float64 { return x - y })
}

// roundByRound returns f(a[i], b[i]) for each round, or nil if a and b
// are not of the same rounds.
func roundByRound(a, b []float64, f func(x, y float64) float64) []float64 {
	if len(a) == 0 || len(a) != len(b) {
		return nil
	}
	xs := make([]float64, len(a))
	for i := range a {
		xs[i] = f(a[i], b[i])
	}
	return xs
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// mr formats xs as "median (min–max)" with format f; "–" if xs is empty.
func mr(f string, xs []float64) string {
	if len(xs) == 0 {
		return "–"
	}
	if len(xs) == 1 {
		return fmt.Sprintf(f, xs[0])
	}
	return fmt.Sprintf(f+" ("+f+"–"+f+")", median(xs), slices.Min(xs), slices.Max(xs))
}

// Extractors of a sample's figures.
var (
	childCPUms   = func(s sample) float64 { return float64(s.Child.CPUNs) / 1e6 }
	childMinFlt  = func(s sample) float64 { return float64(s.Child.MinFlt) }
	processCPUms = func(s sample) float64 { return float64(s.Process.CPU) / 1e6 }
	processFlt   = func(s sample) float64 { return float64(s.Process.MinFlt) }
	processRSSMB = func(s sample) float64 { return float64(s.Process.MaxRSSKB) / 1024 }
	p50us        = func(s sample) float64 { return float64(s.Child.P50) / 1e3 }
	p99us        = func(s sample) float64 { return float64(s.Child.P99) / 1e3 }
	p999us       = func(s sample) float64 { return float64(s.Child.P999) / 1e3 }
	maxus        = func(s sample) float64 { return float64(s.Child.Max) / 1e3 }
	meanNs       = func(s sample) float64 { return s.Child.MeanNs }
	refusedPct   = func(s sample) float64 { return 100 * float64(s.Child.Refused) / float64(max(s.Child.Calls, 1)) }
	callsPerSec  = func(s sample) float64 {
		return float64(s.Child.Calls) / (float64(s.Child.WallNs) / 1e9)
	}
	allocsPerCall = func(s sample) float64 { return float64(s.Child.Mallocs) / float64(max(s.Child.Calls, 1)) }
	bytesPerCall  = func(s sample) float64 { return float64(s.Child.Bytes) / float64(max(s.Child.Calls, 1)) }
	wallPerCall   = func(s sample) float64 { return float64(s.Child.WallNs) / float64(max(s.Child.Calls, 1)) }
	cpuPerCall    = func(s sample) float64 { return float64(s.Child.CPUNs) / float64(max(s.Child.Calls, 1)) }
	clockNs       = func(s sample) float64 { return float64(s.Child.ClockNs) }
	lateP99us     = func(s sample) float64 { return float64(s.Child.LateP99) / 1e3 }
)

// perEvent divides a series in ms by n events, giving ns per event.
func perEvent(xs []float64, n int) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x * 1e6 / float64(n)
	}
	return out
}

func (r *results) print(w io.Writer) {
	s := r.s
	fmt.Fprintf(w, "scorecard: %d rounds, %s to %s UTC (%s), %s, GOMAXPROCS %d, %s\n", s.rounds,
		r.start.UTC().Format("2006-01-02 15:04"), r.end.UTC().Format("15:04"), r.end.Sub(r.start).Round(time.Second),
		runtime.Version(), runtime.GOMAXPROCS(0), cpuModel())
	fmt.Fprintf(w, "load average at the start of each round and at the end: %s\n", strings.Join(r.loads, ", "))
	fmt.Fprintf(w, "ratios are taken round by round, then summarised: median (min–max) of %d rounds\n\n", s.rounds)

	ev := func(c string, n int) unit { return unit{kind: "events", client: c, n: n} }
	cpuPerEvent := func(c string, n int) []float64 { return perEvent(r.series(ev(c, n), childCPUms), n) }
	// marginal returns the CPU ns per event between n and n2, per round.
	marginal := func(c string) []float64 {
		return perEvent(diff(r.series(ev(c, s.n2), childCPUms), r.series(ev(c, s.n), childCPUms)), s.n2-s.n)
	}
	// intercept returns CPU(n) − n × marginal, in ms, per round.
	intercept := func(c string) []float64 {
		m := marginal(c)
		a := r.series(ev(c, s.n), childCPUms)
		if m == nil || a == nil {
			return nil
		}
		out := make([]float64, len(a))
		for i := range a {
			out[i] = a[i] - m[i]*float64(s.n)/1e6
		}
		return out
	}
	st := func(c string) unit { return unit{kind: "startup", client: c, n: s.startup} }
	netCPU := func(c string) []float64 {
		return diff(r.series(st(c), processCPUms), r.series(st("empty"), processCPUms))
	}
	netFlt := func(c string) []float64 {
		return diff(r.series(st(c), processFlt), r.series(st("empty"), processFlt))
	}
	paced := func(c string) unit {
		return unit{kind: "tail", client: c, producers: s.producers, rate: s.tailRate, n: int(s.tailRate * s.tailSeconds)}
	}
	unthrottled := func(c string) unit {
		return unit{kind: "tail", client: c, producers: s.producers, n: s.tailCalls}
	}
	enq := func(m benchmarks.QueueMode, p int) unit {
		n := s.enqueueN
		if m == benchmarks.QueueSpoolSync0 {
			n = s.enqueueSync0N
		}
		return unit{kind: "enqueue", mode: m, producers: p, n: n}
	}
	qe := func(m benchmarks.QueueMode, p int) unit {
		n := s.e2eN
		if m == benchmarks.QueueSpoolSync0 {
			n = s.e2eSync0N
		}
		return unit{kind: "queue-e2e", mode: m, producers: p, n: n}
	}

	fmt.Fprintf(w, "## The goals, as ratios\n\n")
	fmt.Fprintf(w, "| measure | cdpkit | yardstick | ratio | goal |\n|---|---:|---:|---:|---|\n")
	row := func(what, a, b, ratio, goal string) {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", what, a, b, ratio, goal)
	}
	ns, nk := fmt.Sprint(s.n), fmt.Sprintf("%dk", s.n/1000)
	if r.series(ev("cdpkit", s.n), childCPUms) != nil {
		row("client CPU ns/event, N = "+ns+", against Segment v3", mr("%.0f", cpuPerEvent("cdpkit", s.n)), mr("%.0f", cpuPerEvent("segment", s.n)),
			mr("%.2f", ratio(cpuPerEvent("cdpkit", s.n), cpuPerEvent("segment", s.n))), "(ahead already)")
		row("client CPU ns/event, N = "+ns+", against the lean floor", mr("%.0f", cpuPerEvent("cdpkit", s.n)), mr("%.0f", cpuPerEvent("floor", s.n)),
			mr("%.2f", ratio(cpuPerEvent("cdpkit", s.n), cpuPerEvent("floor", s.n))), "≤ 1.5")
		row(fmt.Sprintf("marginal CPU ns/event (%s → %dk) against the lean floor", nk, s.n2/1000), mr("%.0f", marginal("cdpkit")), mr("%.0f", marginal("floor")),
			mr("%.2f", ratio(marginal("cdpkit"), marginal("floor"))), "≤ 1.15")
		row("the old floor's CPU ns/event, N = "+ns+", against the lean floor", mr("%.0f", cpuPerEvent("oldfloor", s.n)), mr("%.0f", cpuPerEvent("floor", s.n)),
			mr("%.2f", ratio(cpuPerEvent("oldfloor", s.n), cpuPerEvent("floor", s.n))), "the floor is the lean one")
		row("start-up CPU per process, ms (CPU at N = "+ns+" less N × marginal)", mr("%.1f", intercept("cdpkit")), mr("%.1f", intercept("floor")),
			mr("%.2f", ratio(intercept("cdpkit"), intercept("floor"))), "≤ 1.5")
		row("page faults, N = "+ns+" (whole process)", mr("%.0f", r.series(ev("cdpkit", s.n), processFlt)), mr("%.0f", r.series(ev("floor", s.n), processFlt)),
			mr("%.2f", ratio(r.series(ev("cdpkit", s.n), processFlt), r.series(ev("floor", s.n), processFlt))), "")
		row("peak RSS MB, N = "+ns+", against Segment v3", mr("%.1f", r.series(ev("cdpkit", s.n), processRSSMB)), mr("%.1f", r.series(ev("segment", s.n), processRSSMB)),
			mr("%.2f", ratio(r.series(ev("cdpkit", s.n), processRSSMB), r.series(ev("segment", s.n), processRSSMB))), "≤ 1 (Segment's)")
		row("peak RSS MB, N = "+ns+", every client at its own defaults (cdpkit: batches of 1,000), against Segment v3", mr("%.1f", r.series(ev(cdpkitDefaults, s.n), processRSSMB)), mr("%.1f", r.series(ev("segment", s.n), processRSSMB)),
			mr("%.2f", ratio(r.series(ev(cdpkitDefaults, s.n), processRSSMB), r.series(ev("segment", s.n), processRSSMB))), "≤ 1 (Segment's)")
		row("peak RSS MB, N = "+ns+", against the lean floor", mr("%.1f", r.series(ev("cdpkit", s.n), processRSSMB)), mr("%.1f", r.series(ev("floor", s.n), processRSSMB)),
			mr("%.2f", ratio(r.series(ev("cdpkit", s.n), processRSSMB), r.series(ev("floor", s.n), processRSSMB))), "")
	}
	if r.series(st("cdpkit"), childCPUms) != nil {
		row(fmt.Sprintf("start-up: New + %d events + Close, CPU ms in the process", s.startup), mr("%.2f", r.series(st("cdpkit"), childCPUms)), mr("%.2f", r.series(st("floor"), childCPUms)),
			mr("%.2f", ratio(r.series(st("cdpkit"), childCPUms), r.series(st("floor"), childCPUms))), "≤ 1.5")
		row(fmt.Sprintf("start-up: New + %d events + Close, page faults in the process", s.startup), mr("%.0f", r.series(st("cdpkit"), childMinFlt)), mr("%.0f", r.series(st("floor"), childMinFlt)),
			mr("%.2f", ratio(r.series(st("cdpkit"), childMinFlt), r.series(st("floor"), childMinFlt))), "")
		row("start-up: the whole process less an empty one, CPU ms", mr("%.2f", netCPU("cdpkit")), mr("%.2f", netCPU("floor")),
			mr("%.2f", ratio(netCPU("cdpkit"), netCPU("floor"))), "≤ 1.5")
	}
	if r.series(paced("cdpkit"), p99us) != nil {
		row(fmt.Sprintf("Enqueue p99 µs, %d producers, paced at %.0f/s", s.producers, s.tailRate), mr("%.2f", r.series(paced("cdpkit"), p99us)), mr("%.2f", r.series(paced("floor"), p99us)),
			mr("%.2f", ratio(r.series(paced("cdpkit"), p99us), r.series(paced("floor"), p99us))), "≤ 1.5")
		row(fmt.Sprintf("Enqueue p99 µs, %d producers, unthrottled, accepted calls", s.producers), mr("%.2f", r.series(unthrottled("cdpkit"), p99us)), mr("%.2f", r.series(unthrottled("floor"), p99us)),
			mr("%.2f", ratio(r.series(unthrottled("cdpkit"), p99us), r.series(unthrottled("floor"), p99us))), "≤ 2")
	}
	if r.series(enq(benchmarks.QueueMemory, 1), meanNs) != nil {
		for _, p := range []int{1, 4, 8} {
			row(fmt.Sprintf("Enqueue with WithSpool (1 s sync) against the memory queue, ns/call, %d producers", p),
				mr("%.0f", r.series(enq(benchmarks.QueueSpool, p), wallPerCall)), mr("%.0f", r.series(enq(benchmarks.QueueMemory, p), wallPerCall)),
				mr("%.2f", ratio(r.series(enq(benchmarks.QueueSpool, p), wallPerCall), r.series(enq(benchmarks.QueueMemory, p), wallPerCall))), "≤ 1.5")
		}
		row("allocations per Enqueue with WithSpool (1 s sync), 1 producer, all goroutines", mr("%.2f", r.series(enq(benchmarks.QueueSpool, 1), allocsPerCall)),
			mr("%.2f", r.series(enq(benchmarks.QueueMemory, 1), allocsPerCall)), "", "0")
	}

	if r.series(ev("cdpkit", s.n), childCPUms) != nil {
		fmt.Fprintf(w, "\n## events: Track with 3 properties, batches of 250, from before New to Close\n\n")
		fmt.Fprintf(w, "| client | N | CPU ns/event | /floor | allocs/event | B/event | peak RSS MB | page faults |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, n := range []int{s.n, s.n2} {
			for _, c := range []string{"cdpkit", cdpkitDefaults, "segment", "floor", "oldfloor"} {
				u := ev(c, n)
				if r.series(u, childCPUms) == nil {
					continue
				}
				fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s |\n", c, n, mr("%.0f", cpuPerEvent(c, n)),
					mr("%.2f", ratio(cpuPerEvent(c, n), cpuPerEvent("floor", n))),
					mr("%.2f", r.series(u, func(s sample) float64 { return float64(s.Child.Mallocs) / float64(n) })),
					mr("%.0f", r.series(u, func(s sample) float64 { return float64(s.Child.Bytes) / float64(n) })),
					mr("%.1f", r.series(u, processRSSMB)), mr("%.0f", r.series(u, processFlt)))
			}
		}
		fmt.Fprintf(w, "\n| client | marginal CPU ns/event (%dk → %dk) | /floor | start-up ms (intercept) | /floor |\n|---|---:|---:|---:|---:|\n", s.n/1000, s.n2/1000)
		for _, c := range []string{"cdpkit", "floor", "oldfloor"} {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", c, mr("%.0f", marginal(c)), mr("%.2f", ratio(marginal(c), marginal("floor"))),
				mr("%.1f", intercept(c)), mr("%.2f", ratio(intercept(c), intercept("floor"))))
		}
	}
	if r.series(st("cdpkit"), childCPUms) != nil {
		fmt.Fprintf(w, "\n## startup: New + %d Track events + Close\n\n", s.startup)
		fmt.Fprintf(w, "| client | CPU ms in the process | page faults in the process | whole process CPU ms | page faults | peak RSS MB | less the empty process: CPU ms | page faults |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, c := range []string{"cdpkit", "segment", "floor", "empty"} {
			u := st(c)
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", c, mr("%.2f", r.series(u, childCPUms)), mr("%.0f", r.series(u, childMinFlt)),
				mr("%.2f", r.series(u, processCPUms)), mr("%.0f", r.series(u, processFlt)), mr("%.1f", r.series(u, processRSSMB)),
				mr("%.2f", netCPU(c)), mr("%.0f", netFlt(c)))
		}
	}
	if r.series(paced("cdpkit"), p99us) != nil {
		fmt.Fprintf(w, "\n## tail: Enqueue latency of accepted calls, %d producers, µs\n\n", s.producers)
		fmt.Fprintf(w, "| pacing | client | p50 | p99 | p99.9 | max | p99 /floor | p99.9 /floor | refused %% | calls/s | paced calls late, p99 µs |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, mode := range []struct {
			name string
			u    func(string) unit
		}{{fmt.Sprintf("%.0f/s", s.tailRate), paced}, {"unthrottled", unthrottled}} {
			for _, c := range []string{"cdpkit", "segment", "floor"} {
				u, f := mode.u(c), mode.u("floor")
				late := "–"
				if u.rate > 0 {
					late = mr("%.0f", r.series(u, lateP99us))
				}
				fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", mode.name, c,
					mr("%.2f", r.series(u, p50us)), mr("%.2f", r.series(u, p99us)), mr("%.1f", r.series(u, p999us)), mr("%.0f", r.series(u, maxus)),
					mr("%.2f", ratio(r.series(u, p99us), r.series(f, p99us))), mr("%.2f", ratio(r.series(u, p999us), r.series(f, p999us))),
					mr("%.1f", r.series(u, refusedPct)), mr("%.0f", r.series(u, callsPerSec)), late)
			}
		}
		fmt.Fprintf(w, "\ntiming a call (two time.Now readings) costs %s ns (median of the units' medians)\n", mr("%.0f", r.series(paced("cdpkit"), clockNs)))
	}
	if r.series(enq(benchmarks.QueueMemory, 1), meanNs) != nil {
		fmt.Fprintf(w, "\n## enqueue: cdpkit's Enqueue against a server that never answers\n\n")
		fmt.Fprintf(w, "| queue | producers | calls | ns/call | /memory | CPU ns/call | /memory | mean latency ns | p50 µs | p99 µs | allocs/call | B/call |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, m := range benchmarks.QueueModes {
			for _, p := range []int{1, 4, 8} {
				u, mem := enq(m, p), enq(benchmarks.QueueMemory, p)
				fmt.Fprintf(w, "| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", m, p, u.n,
					mr("%.0f", r.series(u, wallPerCall)), mr("%.2f", ratio(r.series(u, wallPerCall), r.series(mem, wallPerCall))),
					mr("%.0f", r.series(u, cpuPerCall)), mr("%.2f", ratio(r.series(u, cpuPerCall), r.series(mem, cpuPerCall))),
					mr("%.0f", r.series(u, meanNs)), mr("%.2f", r.series(u, p50us)), mr("%.2f", r.series(u, p99us)),
					mr("%.2f", r.series(u, allocsPerCall)), mr("%.0f", r.series(u, bytesPerCall)))
			}
		}
	}
	if r.series(qe(benchmarks.QueueMemory, 1), wallPerCall) != nil {
		fmt.Fprintf(w, "\n## queue-e2e: cdpkit end to end (EnqueueContext … Close), to the sink\n\n")
		fmt.Fprintf(w, "| queue | producers | events | wall ns/event | /memory | CPU ns/event | /memory | Enqueue p99 µs | allocs/event |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, m := range benchmarks.QueueModes {
			for _, p := range []int{1, 4, 8} {
				u, mem := qe(m, p), qe(benchmarks.QueueMemory, p)
				fmt.Fprintf(w, "| %s | %d | %d | %s | %s | %s | %s | %s | %s |\n", m, p, u.n, mr("%.0f", r.series(u, wallPerCall)),
					mr("%.2f", ratio(r.series(u, wallPerCall), r.series(mem, wallPerCall))),
					mr("%.0f", r.series(u, cpuPerCall)), mr("%.2f", ratio(r.series(u, cpuPerCall), r.series(mem, cpuPerCall))),
					mr("%.2f", r.series(u, p99us)), mr("%.2f", r.series(u, allocsPerCall)))
			}
		}
	}
}

// cpuModel returns the processor's model name from /proc/cpuinfo, or "".
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
