package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"time"

	analytics "github.com/cdpkit/analytics-go"
)

// batchJob is a run of import, delete-people, suppress or unsuppress.
type batchJob struct {
	command string
	flags   *sendFlags
	inputs  []input
	// newSplitter returns the splitter of input i read from r.
	newSplitter func(i int, r io.Reader) (splitter, error)
	// newDecoder returns a decoder for one worker.
	newDecoder func() recordDecoder
	// confirm, if set, is asked before anything is sent, with the
	// checkpoint the run resumes from (nil for none); false cancels the
	// run with status.
	confirm func(ckpt *checkpoint) (ok bool, status int)
	// preview, if set, writes what a dry run would send first.
	preview func(w io.Writer)
	window  *timeWindow // --since, --until, --skip-recent; nil for none
	idFrom  *idFrom     // --id-from; nil for none
}

// checkHeaders makes the splitter of every input but stdin, which reads a
// CSV input's header row and checks it against the flags, so that a
// header the command cannot use is a setup error before anything is sent,
// not a stop after the inputs before it.
func checkHeaders(job *batchJob) error {
	for i, in := range job.inputs {
		if in.name == "-" {
			continue
		}
		if err := withSplitter(job, i, func(splitter) error { return nil }); err != nil {
			return fmt.Errorf("%s: %w", in.name, err)
		}
	}
	return nil
}

// withSplitter opens input i of job and calls fn with its splitter.
func withSplitter(job *batchJob, i int, fn func(splitter) error) error {
	rc, err := job.inputs[i].open()
	if err != nil {
		return err
	}
	defer rc.Close()
	var n atomic.Int64
	r, err := decompressed(rc, &n)
	if err != nil {
		return err
	}
	defer r.Close()
	sp, err := job.newSplitter(i, r)
	if err != nil {
		return err
	}
	return fn(sp)
}

// recentWindow is how old a back-dated event must be for Customer.io not
// to trigger campaigns with it.
const recentWindow = 72 * time.Hour

// drainPeriod is how long an interrupted run still delivers what it had
// enqueued: what is delivered need not be sent again.
const drainPeriod = 30 * time.Second

// runBatch runs job and returns the exit status.
func runBatch(ctx context.Context, e *env, job *batchJob) int {
	f := job.flags
	if err := f.check(); err != nil {
		return usageError(e, "%v", err)
	}
	if err := checkHeaders(job); err != nil {
		return usageError(e, "%v", err)
	}
	var key string
	if f.dryRun {
		key = "dry-run" // nothing is sent: no key is needed
	} else {
		k, err := f.conn.apiKey(e)
		if err != nil {
			return usageError(e, "%v", err)
		}
		key = k
	}
	opts, err := f.conn.options(e, f.rate, f.dryRun)
	if err != nil {
		return usageError(e, "%v", err)
	}

	names := make([]string, len(job.inputs))
	var total int64
	for i, in := range job.inputs {
		names[i] = in.name
		if in.size < 0 || total < 0 {
			total = -1
		} else {
			total += in.size
		}
	}
	var cnt counts
	window := min(windowBatches*f.workers*f.batchSize, maxWindow)
	t := newTracker(window, maxHeldBytes, &cnt)
	p := &pipeline{job: job, t: t, counts: &cnt, work: make(chan *chunk, f.decoders), now: e.clock()}
	var ckpt *checkpoint
	var badSize int64
	if f.checkpoint != "" {
		ck, err := loadCheckpoint(f.checkpoint, job.command, names)
		if err != nil {
			return usageError(e, "%v", err)
		}
		if ck.Done {
			fmt.Fprintf(e.stderr, "cdp: the checkpoint %s says every line was done already; remove it to send again\n", f.checkpoint)
			return exitOK
		}
		ckpt, p.runID, badSize = ck, ck.Run, ck.BadBytes
		p.start.file, p.start.line = ck.File, ck.Line
		if ck.File > 0 || ck.Line > 0 {
			fmt.Fprintf(e.stderr, "cdp: resuming from the checkpoint %s: %s\n", f.checkpoint, ck.position(names))
		}
	}
	if job.confirm != nil {
		if ok, status := job.confirm(ckpt); !ok {
			return status
		}
	}
	if f.dryRun && job.preview != nil && !f.conn.json {
		job.preview(e.stdout)
	}
	bad, err := openBadLog(f.bad, badSize, e.stderr)
	if err != nil {
		return usageError(e, "%v", err)
	}

	opts = append(opts,
		analytics.WithBatchSize(f.batchSize),
		analytics.WithMaxInFlight(f.workers),
		analytics.WithQueueCapacity(window),
		analytics.WithFlushInterval(time.Second),
		analytics.WithCallback(t.resolve),
	)
	client, err := analytics.New(key, opts...)
	if err != nil {
		bad.close()
		return usageError(e, "%v", libraryError(err))
	}
	p.client = client
	cm := &committer{t: t, inputs: job.inputs, bad: bad, ckpt: ckpt, path: f.checkpoint, pool: &p.pool,
		quit: make(chan struct{}), done: make(chan struct{}), stuck: -1, readAll: p.readAll.Load}
	cm.pos.file, cm.pos.line = p.start.file, p.start.line
	p.c = cm
	if ckpt != nil {
		// Write the checkpoint before anything is sent: a new one holds
		// the run id the messageIds derive from, so a re-run after a kill
		// sends the first batches with the same ids. A path that cannot be
		// written is found here, as a setup error.
		if err := ckpt.save(f.checkpoint); err != nil {
			_ = client.Close()
			bad.close()
			return usageError(e, "%v", err)
		}
	}

	verb := "delivered"
	if f.dryRun {
		verb = "valid"
	}
	var prog *progress
	if !f.quiet {
		prog = &progress{w: e.stderr, bar: e.terminal, c: &cnt, total: total, verb: verb, width: e.width,
			retries: func() int64 { return client.Stats().Retries }}
		prog.begin()
	}
	started := p.now()
	p.recentTo = started.Add(-recentWindow)
	if job.window != nil {
		job.window.now = p.now
	}
	p.run(ctx, f.decoders)
	elapsed := p.now().Sub(started)
	if prog != nil {
		prog.end()
	}
	runErr := cm.err
	if err := bad.close(); err != nil && runErr == nil {
		runErr = err
	}
	st := client.Stats()
	kind, stopErr := t.stopped()
	if runErr != nil {
		kind, stopErr = stopInput, runErr
	}
	status := exitStatus(kind, &cnt)
	rep := report{command: job.command, flags: f, counts: &cnt, elapsed: elapsed, requests: st.Requests, retries: st.Retries,
		ckpt: ckpt, status: status}
	if kind != stopNone {
		rep.stopped = stopReason(kind, stopErr, cm)
	}
	rep.write(e)
	if kind != stopNone && !f.conn.json {
		fmt.Fprintf(e.stderr, "cdp: stopped: %s\n", rep.stopped)
		switch {
		case ckpt != nil:
			fmt.Fprintf(e.stderr, "cdp: run the same command again to resume %s\n", ckpt.position(names))
		case kind == stopInterrupted:
			hint := "under new random messageIds"
			if job.idFrom != nil {
				hint = "with the same messageIds (--id-from)"
			}
			fmt.Fprintf(e.stderr, "cdp: without --checkpoint, running the command again sends every line again, %s; add --checkpoint FILE to resume where a run stops\n", hint)
		}
	}
	return status
}

// windowBatches is how many rounds of --workers batches of --batch-size
// the tracker's window holds: lines read and not yet final. Four keep the
// senders busy while the batches answered out of order wait for the ones
// before them (measured: 2 gave 70 % of the throughput of 4, 8 no more).
const windowBatches = 4

// maxWindow caps the window, whatever --workers and --batch-size say
// (64 workers of 10,000 would ask for 2,560,000 lines): 262,144 slots are
// about 17 MB.
const maxWindow = 1 << 18

// maxHeldBytes bounds the input text the tracker holds between reading
// and committing (the bad file may need it), besides its window of
// records.
const maxHeldBytes = 32 << 20

// defaultDecoders is the default of --decoders: one per CPU.
func defaultDecoders() int { return runtime.GOMAXPROCS(0) }
