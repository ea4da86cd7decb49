// Command scorecard measures every goal of issue 22 in one run, against
// the lean floor (benchmarks/leanfloor.go), and prints each as a ratio:
// the median and the range of the ratios taken round by round.
//
//	cd benchmarks && go run ./cmd/scorecard -rounds 7
//
// Every measurement is a unit, and every unit runs in a process of its
// own (this binary, started with -role), with the sink that counts what it
// sends in another process; the parent reads the child's own figures from
// its standard output and the operating system's from wait4. Each round
// runs every unit once, in an order rotated from round to round, so that a
// change in the machine's load falls on every unit alike. The units:
//
//   - events: N Track events with 3 properties (batches of 250, every
//     client waiting for room rather than dropping) from one goroutine,
//     from before New to the return of Close: CPU (getrusage in the
//     child), allocations, and from wait4 the process's peak RSS and page
//     faults. At -n (200,000) for cdpkit, Segment v3, the lean floor,
//     the old floor, and cdpkit with every default of its own (batches of
//     1,000 where every other row has Segment's 250); at -n2 (1,000,000)
//     for cdpkit and both floors, for the marginal cost (the difference
//     over the 800,000 events between) and the start-up cost (what is
//     left at -n after the marginal cost of its events: intercept =
//     CPU(n) − n × marginal).
//   - startup: the same with -startup events (1,000): New, the first
//     1,000 events and Close, as a Lambda cold start or a short script
//     pays it; also the whole process from wait4, and an "empty" process
//     (this binary started and ended, no client) to take its start-up off.
//   - tail: -producers goroutines (8) calling Enqueue (cdpkit's plain
//     Enqueue, Segment's, the lean floor refusing when every body is in
//     use), each call timed; percentiles of the accepted calls. Paced at
//     -tail-rate (50,000 calls a second in all) for -tail-seconds, and
//     unthrottled for -tail-calls.
//   - enqueue: cdpkit's Enqueue with the memory queue, with WithSpool (1 s
//     fsync) and with WithSpoolSync(0), from 1, 4 and 8 producers, against
//     a server that never answers (rounds of 8,000 on fresh clients, so
//     the memory queue never fills): mean and percentiles of the calls,
//     allocations per call.
//   - queue-e2e: the same modes end to end (EnqueueContext, the sink,
//     Close): wall time and CPU per event.
//
// -cpuprofile writes each unit's CPU profile of the last round (run it
// with -rounds 1 apart from the measuring run: profiling costs), -only
// picks groups of units, -raw writes every round's figures as JSON.
package main

import (
	"flag"
	"fmt"
	"os"
)

// settings are the flags, shared by the parent and its children.
type settings struct {
	rounds        int
	n, n2         int
	startup       int
	producers     int
	tailRate      float64
	tailSeconds   float64
	tailCalls     int
	enqueueN      int
	enqueueSync0N int
	e2eN          int
	e2eSync0N     int
	dir           string
	only          string
	cpuProfile    string
	raw           string
}

func main() {
	var s settings
	role := flag.String("role", "parent", "parent, or (started by the parent) sink, or a unit's kind")
	unitFlag := flag.String("unit", "", "the unit to run (child roles)")
	url := flag.String("url", "", "the sink's URL (child roles)")
	profile := flag.String("profile", "", "write the child's CPU profile here (child roles)")
	flag.IntVar(&s.rounds, "rounds", 7, "rounds: every unit runs once in each")
	flag.IntVar(&s.n, "n", 200_000, "events of the events units")
	flag.IntVar(&s.n2, "n2", 1_000_000, "events of the larger events units (the marginal cost)")
	flag.IntVar(&s.startup, "startup", 1000, "events of the startup units")
	flag.IntVar(&s.producers, "producers", 8, "producers of the tail units")
	flag.Float64Var(&s.tailRate, "tail-rate", 50_000, "calls a second of all producers together, paced tail units")
	flag.Float64Var(&s.tailSeconds, "tail-seconds", 2, "length of a paced tail unit")
	flag.IntVar(&s.tailCalls, "tail-calls", 200_000, "calls of an unthrottled tail unit")
	flag.IntVar(&s.enqueueN, "enqueue-n", 40_000, "calls of an enqueue unit (memory and spool)")
	flag.IntVar(&s.enqueueSync0N, "enqueue-sync0-n", 1000, "calls of an enqueue unit with WithSpoolSync(0)")
	flag.IntVar(&s.e2eN, "e2e-n", 100_000, "events of a queue-e2e unit (memory and spool)")
	flag.IntVar(&s.e2eSync0N, "e2e-sync0-n", 1000, "events of a queue-e2e unit with WithSpoolSync(0)")
	flag.StringVar(&s.dir, "dir", os.TempDir(), "where the spools go (a disk, not tmpfs, for honest fsyncs)")
	flag.StringVar(&s.only, "only", "", "comma-separated groups to run (events, startup, tail, enqueue, queue-e2e); default all")
	flag.StringVar(&s.cpuProfile, "cpuprofile", "", "write each unit's CPU profile of the last round to `prefix`-<unit>.prof")
	flag.StringVar(&s.raw, "raw", "", "write every round's figures as JSON to `file`")
	flag.Parse()
	var err error
	switch *role {
	case "parent":
		err = runParent(&s)
	default:
		err = runChild(*role, *unitFlag, *url, *profile)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scorecard:", err)
		os.Exit(1)
	}
}
