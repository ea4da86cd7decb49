package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	analytics "github.com/cdpkit/analytics-go"
)

// openInputs checks that every input can be read before anything is sent,
// so that a typo is a setup error, not a run that stops half-way.
func openInputs(e *env, names []string) ([]input, error) {
	var inputs []input
	stdin := false
	for _, name := range names {
		if name == "-" {
			if stdin {
				return nil, fmt.Errorf("stdin (-) is named twice")
			}
			stdin = true
			r := e.stdin
			inputs = append(inputs, input{name: "-", size: -1, open: func() (io.ReadCloser, error) { return io.NopCloser(r), nil }})
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		fi, err := f.Stat()
		f.Close()
		if err != nil {
			return nil, err
		}
		if fi.IsDir() {
			return nil, fmt.Errorf("%s is a directory", name)
		}
		size := fi.Size()
		if !fi.Mode().IsRegular() {
			size = -1
		}
		path := name
		inputs = append(inputs, input{name: filepath.Clean(name), size: size, open: func() (io.ReadCloser, error) { return os.Open(path) }})
	}
	return inputs, nil
}

// batchJob is a run of import, delete-people, suppress or unsuppress.
type batchJob struct {
	command string
	flags   *sendFlags
	inputs  []input
	// makeSource returns the source of records of input i read from r.
	makeSource func(i int, r io.Reader) (source, error)
	// confirm, if set, is asked before anything is sent, with the
	// checkpoint the run resumes from (nil for none); false cancels the
	// run.
	confirm func(ckpt *checkpoint) (ok bool, status int)
}

// checkHeaders makes the source of every input but stdin, which reads a
// CSV input's header row and checks it against the flags, so that a
// header the command cannot use is a setup error before anything is sent,
// not a stop after the inputs before it.
func checkHeaders(job batchJob) error {
	for i, in := range job.inputs {
		if in.name == "-" {
			continue
		}
		rc, err := in.open()
		if err != nil {
			return err
		}
		_, err = job.makeSource(i, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", in.name, err)
		}
	}
	return nil
}

// runBatch runs job and returns the exit status.
func runBatch(ctx context.Context, e *env, job batchJob) int {
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
	window := f.workers * f.batchSize
	p := newPipeline(job.inputs, window)
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
		p.ckpt, p.path, p.ids = ck, f.checkpoint, messageIDs{run: ck.Run}
		badSize = ck.BadBytes
		if ck.File > 0 || ck.Line > 0 {
			fmt.Fprintf(e.stderr, "cdp: resuming from the checkpoint %s: after line %d of %s\n", f.checkpoint, ck.Line, names[min(ck.File, len(names)-1)])
		}
	}
	if job.confirm != nil {
		if ok, status := job.confirm(p.ckpt); !ok {
			return status
		}
	}
	bad, err := openBadLog(f.bad, badSize, e.stderr)
	if err != nil {
		return usageError(e, "%v", err)
	}
	p.bad = bad

	opts = append(opts,
		analytics.WithBatchSize(f.batchSize),
		analytics.WithMaxInFlight(f.workers),
		analytics.WithQueueCapacity(window),
		analytics.WithFlushInterval(time.Second),
		analytics.WithCallback(p.onResult),
	)
	client, err := analytics.New(key, opts...)
	if err != nil {
		bad.close()
		return usageError(e, "%v", err)
	}
	p.client = client
	if p.ckpt != nil {
		// Write the checkpoint before anything is sent: a new one holds
		// the run id the messageIds derive from, so a re-run after a kill
		// in the first round sends that round with the same ids. A path
		// that cannot be written is found here, as a setup error.
		if err := p.ckpt.save(p.path); err != nil {
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
		prog = &progress{w: e.stderr, bar: e.terminal, c: &p.counts, total: total, verb: verb}
		prog.begin()
	}
	runErr := p.run(ctx, job.makeSource)
	if prog != nil {
		prog.end()
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	_ = client.Shutdown(sctx) // every outcome was collected round by round
	cancel()
	if err := bad.close(); err != nil && runErr == nil {
		runErr = err
	}
	summary(e, job.command, f, &p.counts)
	switch {
	case runErr != nil:
		fmt.Fprintf(e.stderr, "cdp: %v\n", runErr)
		return exitFailed
	case p.stopReason != nil:
		fmt.Fprintf(e.stderr, "cdp: stopped: %v\n", p.stopReason)
		if p.ckpt != nil {
			fmt.Fprintf(e.stderr, "cdp: run the same command again to resume after line %d of %s\n", p.ckpt.Line, names[min(p.ckpt.File, len(names)-1)])
		}
		return exitFailed
	case p.counts.invalid.Load() > 0 || p.counts.failed.Load() > 0:
		return exitFailed
	}
	return exitOK
}

// summary writes the counts of a run to stdout.
func summary(e *env, command string, f *sendFlags, c *counts) {
	w := e.stdout
	fmt.Fprintf(w, "cdp %s: %d lines read\n", command, c.read.Load())
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
	fmt.Fprintf(w, "  blank          %d\n", c.blank.Load())
}
