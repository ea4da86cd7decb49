// Command importbench measures cdp import (cmd/cdp) against the library's
// own EnqueueContext of the same events, in one run: for each round, a
// sink process counts every event, then a process that enqueues N Track
// events built as maps sends them, then the cdp binary imports a file of
// the same N events as NDJSON lines. Each process's CPU (user + system),
// peak RSS and wall time come from wait4; the table has the medians.
//
//	cd benchmarks && go run ./cmd/importbench -n 1000000 -rounds 3
//
// -cdp names a cdp binary to measure instead of building this tree's;
// -before names another to measure in the same rounds, such as one built
// from an earlier commit, for a before/after table. Extra arguments after
// -- go to both imports.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/cdpkit/analytics-go/benchmarks"
)

func main() {
	role := flag.String("role", "parent", "parent, sink or enqueue (the last two are started by the parent)")
	url := flag.String("url", "", "sink URL (role enqueue)")
	n := flag.Int("n", 1_000_000, "events per run")
	rounds := flag.Int("rounds", 3, "runs of each side")
	cdp := flag.String("cdp", "", "the cdp binary to measure (default: build this tree's cmd/cdp)")
	before := flag.String("before", "", "another cdp binary to measure in the same rounds (before/after)")
	flag.Parse()
	var err error
	switch *role {
	case "sink":
		err = benchmarks.ServeSink(os.Stdin, os.Stdout)
	case "enqueue":
		err = benchmarks.EnqueueImportTracks(*url, *n)
	default:
		err = runParent(*n, *rounds, *cdp, *before, flag.Args())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "importbench:", err)
		os.Exit(1)
	}
}

// withSink starts a sink process, runs cmd(url) against it, and returns
// what cmd used and the events the sink counted.
func withSink(self string, cmd func(url string) *exec.Cmd) (benchmarks.ProcessCost, int64, error) {
	sk, err := benchmarks.StartSinkProcess(self)
	if err != nil {
		return benchmarks.ProcessCost{}, 0, err
	}
	c := cmd(sk.URL)
	c.Stderr = os.Stderr
	cost, cerr := benchmarks.RunMeasured(c)
	st, err := sk.Stop()
	if err != nil {
		return cost, 0, err
	}
	if st.Bad > 0 {
		return cost, st.Events, fmt.Errorf("the sink got %d bad requests", st.Bad)
	}
	return cost, st.Events, cerr
}

type side struct {
	name            string
	rate, cpu, rssM []float64 // events/s, ns/event, MB
}

func (s *side) add(c benchmarks.ProcessCost, n int) {
	s.rate = append(s.rate, float64(n)/c.Wall.Seconds())
	s.cpu = append(s.cpu, float64(c.CPU.Nanoseconds())/float64(n))
	s.rssM = append(s.rssM, float64(c.MaxRSSKB)/1024)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func runParent(n, rounds int, cdp, before string, extra []string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "importbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if cdp == "" {
		if cdp, err = benchmarks.BuildCDP(dir); err != nil {
			return err
		}
	}
	file := filepath.Join(dir, "events.ndjson")
	if err := benchmarks.WriteImportFile(file, n); err != nil {
		return err
	}
	lib := &side{name: "library EnqueueContext, map Track"}
	imp := &side{name: "cdp import, NDJSON lines"}
	sides := []*side{lib, imp}
	var old *side
	if before != "" {
		old = &side{name: "cdp import (-before)"}
		sides = append(sides, old)
	}
	importRun := func(bin string, s *side) error {
		cost, events, err := withSink(self, func(url string) *exec.Cmd {
			c := exec.Command(bin, append(benchmarks.ImportArgs(url, file), extra...)...)
			c.Env = append(os.Environ(), "CDP_API_KEY="+benchmarks.APIKey)
			return c
		})
		if err == nil && events != int64(n) {
			err = fmt.Errorf("%s: the sink counted %d events, want %d", bin, events, n)
		}
		if err == nil {
			s.add(cost, n)
		}
		return err
	}
	for range rounds {
		cost, events, err := withSink(self, func(url string) *exec.Cmd {
			return exec.Command(self, "-role", "enqueue", "-url", url, "-n", fmt.Sprint(n))
		})
		if err == nil && events != int64(n) {
			err = fmt.Errorf("enqueue: the sink counted %d events, want %d", events, n)
		}
		if err != nil {
			return err
		}
		lib.add(cost, n)
		if err := importRun(cdp, imp); err != nil {
			return err
		}
		if old != nil {
			if err := importRun(before, old); err != nil {
				return err
			}
		}
	}
	base := median(lib.cpu)
	fmt.Printf("%d Track events (4 properties), medians of %d rounds, CPU and RSS from wait4\n", n, rounds)
	fmt.Printf("%-34s %10s %12s %11s %10s %16s\n", "", "events/s", "CPU ns/event", "peak RSS MB", "/Enqueue", "cores for 1M/s")
	for _, s := range sides {
		cpu := median(s.cpu)
		fmt.Printf("%-34s %10.0f %12.0f %11.1f %10.2f %16.2f\n", s.name, median(s.rate), cpu, median(s.rssM), cpu/base,
			benchmarks.CoresToSaturate(time.Duration(cpu)))
	}
	return nil
}
