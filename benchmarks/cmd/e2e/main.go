// Command e2e is the out-of-process end-to-end run: for each client, a
// sink in its own process counts every event, and the client runs in its
// own process, which reports its CPU time (getrusage), allocations, bytes
// allocated and peak RSS. It prints one table of medians over the rounds,
// with ratios against Segment and against the floor.
//
//	cd benchmarks && go run ./cmd/e2e -n 200000 -rounds 7
//
// -event order sends Order Completed (2 products) instead of a track with 3
// properties, and adds cdpkit's typed helper as a row; -batch sets every
// client's batch size (250 by default), -queue cdpkit's queue capacity.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"

	"github.com/cdpkit/analytics-go/benchmarks"
)

// cpuProfile is the -cpuprofile prefix; the parent passes a file name to
// each client process.
var cpuProfile string

// batch and event are the -batch and -event flags, passed on to each
// client process.
var (
	batch int
	queue int
	event string
)

type clientResult struct {
	CPUNs    int64 `json:"cpu_ns"`
	Mallocs  uint64
	Bytes    uint64
	MaxRSSKB int64 `json:"maxrss_kb"`
}

func main() {
	role := flag.String("role", "parent", "parent, sink or client (the last two are started by the parent)")
	name := flag.String("client", "", "client name (role client)")
	url := flag.String("url", "", "sink URL (role client)")
	n := flag.Int("n", 200_000, "Track events with 3 properties per run")
	rounds := flag.Int("rounds", 7, "runs per client")
	only := flag.String("clients", "", "comma-separated clients to run (default: all); the ratios need segment and floor")
	flag.IntVar(&queue, "queue", 0, "cdpkit's WithQueueCapacity (0: its default, 10,000)")
	flag.IntVar(&batch, "batch", 0, "messages per request for every client (0: 250)")
	flag.StringVar(&event, "event", "track3", "the event sent: track3 (a track with 3 properties) or order (Order Completed, 2 products)")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write each client's CPU profile of its last round to `prefix`-<client>.prof")
	flag.Parse()
	var err error
	switch *role {
	case "sink":
		err = benchmarks.ServeSink(os.Stdin, os.Stdout)
	case "client":
		err = runClient(*name, *url, *n)
	default:
		err = runParent(*n, *rounds, *only)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
}

func rusage() (cpuNs, maxRSSKB int64) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano(), ru.Maxrss
}

// runClient sends n events and closes the client, measuring only that.
func runClient(name, url string, n int) error {
	c, err := benchmarks.NewClient(name, url, batch, queue)
	if err != nil {
		return err
	}
	send := c.Track3
	switch event {
	case "track3":
	case "order":
		o := benchmarks.Order()
		send = func() error { return c.TrackOrder(o) }
	default:
		return fmt.Errorf("unknown -event %q", event)
	}
	if cpuProfile != "" {
		stop, err := benchmarks.StartCPUProfile(cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0, _ := rusage()
	for range n {
		if err := send(); err != nil {
			return err
		}
	}
	if err := c.Close(); err != nil {
		return err
	}
	cpu1, rss := rusage()
	runtime.ReadMemStats(&m1)
	return json.NewEncoder(os.Stdout).Encode(clientResult{
		CPUNs: cpu1 - cpu0, Mallocs: m1.Mallocs - m0.Mallocs, Bytes: m1.TotalAlloc - m0.TotalAlloc, MaxRSSKB: rss,
	})
}

type run struct {
	c    clientResult
	sink benchmarks.SinkStats
}

func runOnce(self, name string, n int, profile string) (run, error) {
	var r run
	sk, err := benchmarks.StartSinkProcess(self)
	if err != nil {
		return r, err
	}
	args := []string{"-role", "client", "-client", name, "-url", sk.URL, "-n", fmt.Sprint(n),
		"-batch", fmt.Sprint(batch), "-queue", fmt.Sprint(queue), "-event", event}
	if profile != "" {
		args = append(args, "-cpuprofile", profile)
	}
	cl := exec.Command(self, args...)
	cl.Stderr = os.Stderr
	b, cerr := cl.Output()
	if r.sink, err = sk.Stop(); err != nil {
		return r, err
	}
	if cerr != nil {
		return r, fmt.Errorf("%s: %w", name, cerr)
	}
	return r, json.Unmarshal(b, &r.c)
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

func runParent(n, rounds int, only string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	names := benchmarks.ClientNames(event == "order")
	if only != "" {
		names = strings.Split(only, ",")
	}
	type row struct{ cpu, allocs, bytes, rss, events, conns []float64 }
	rows := map[string]*row{}
	for _, name := range names {
		rows[name] = &row{}
	}
	// Rounds interleave the clients, so that background load falls on
	// all of them alike.
	for round := range rounds {
		for _, name := range names {
			profile := ""
			if cpuProfile != "" && round == rounds-1 {
				profile = cpuProfile + "-" + name + ".prof"
			}
			r, err := runOnce(self, name, n, profile)
			if err != nil {
				return err
			}
			w := rows[name]
			w.cpu = append(w.cpu, float64(r.c.CPUNs)/float64(n))
			w.allocs = append(w.allocs, float64(r.c.Mallocs)/float64(n))
			w.bytes = append(w.bytes, float64(r.c.Bytes)/float64(n))
			w.rss = append(w.rss, float64(r.c.MaxRSSKB)/1024)
			w.events = append(w.events, float64(r.sink.Events))
			w.conns = append(w.conns, float64(r.sink.Conns))
		}
	}
	ratio := func(name string) float64 {
		if r, ok := rows[name]; ok {
			return median(r.cpu)
		}
		return math.NaN()
	}
	seg, floor := ratio("segment"), ratio("floor")
	what := "Track events with 3 properties"
	if event == "order" {
		what = "Order Completed events (2 products)"
	}
	size := batch
	if size == 0 {
		size = 250
	}
	queued := "cdpkit's default queue"
	if queue > 0 {
		queued = fmt.Sprintf("cdpkit's queue %d messages", queue)
	}
	fmt.Printf("%d %s, batches of %d, %s, medians of %d rounds, client CPU from getrusage\n", n, what, size, queued, rounds)
	fmt.Printf("%-12s %12s %9s %9s %11s %12s %6s %8s %8s\n", "client", "CPU ns/event", "allocs/ev", "B/event", "peak RSS MB", "sink events", "conns", "/segment", "/floor")
	for _, name := range names {
		w := rows[name]
		cpu := median(w.cpu)
		fmt.Printf("%-12s %12.0f %9.1f %9.0f %11.1f %12.0f %6.0f %8.2f %8.2f\n", name, cpu, median(w.allocs), median(w.bytes),
			median(w.rss), slices.Min(w.events), median(w.conns), cpu/seg, cpu/floor)
	}
	return nil
}
