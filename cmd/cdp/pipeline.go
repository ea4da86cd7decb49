package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	analytics "github.com/cdpkit/analytics-go"
)

// An input is one file named on the command line, or stdin ("-").
type input struct {
	name string // as given, for messages and the bad file
	open func() (io.ReadCloser, error)
	size int64 // bytes, or -1 when unknown (stdin, a pipe)
}

// counts are the run's counters. The pipeline's goroutine and the client's
// callback write them; the progress goroutine reads them.
type counts struct {
	read      atomic.Int64 // records read (lines, CSV rows)
	blank     atomic.Int64 // empty lines, not sent
	invalid   atomic.Int64 // lines that could not be made a valid message
	delivered atomic.Int64 // messages the API accepted
	failed    atomic.Int64 // messages that were not delivered
	bytes     atomic.Int64 // bytes of input read
	skipped   atomic.Int64 // bytes of input skipped by a checkpoint
}

// entry is one line of the current round that needs reporting: a message
// waiting for its outcome, or an invalid line.
type entry struct {
	file int
	line int64
	id   string // messageId; "" for an invalid line
	text string // the invalid line's text, for the bad file
	err  error  // why the line is invalid, or why the message was not delivered
	done bool   // the message's outcome came
}

// pipeline sends the records of its inputs through one client in rounds:
// it enqueues up to window messages, then flushes, waits for the outcome of
// every one, reports the bad ones, and writes the checkpoint. So at any
// moment at most one round (window messages, one batch per worker) has no
// outcome recorded. Within a round, the checkpoint also moves past each
// run of lines at its start whose outcomes have all come (see
// checkpointPrefix): a round that goes out as several batches (cut by
// bytes or by the flush interval) is re-sent after a kill only from its
// first batch that was not answered.
//
// The goroutine that calls run owns everything but the fields under mu,
// which the client's callback (on the client's sender goroutines) writes
// and run reads.
type pipeline struct {
	inputs []input
	client *analytics.Client
	window int
	ids    messageIDs
	bad    *badLog
	ckpt   *checkpoint // nil without --checkpoint
	path   string      // the checkpoint's path
	frozen bool        // a message failed for a reason that may pass: the checkpoint stays before it
	pos    struct {    // the last line read
		file int
		line int64
	}
	counts      counts
	roundMsgs   int           // messages enqueued in the current round
	roundBytes  int           // bytes of invalid lines' text held in the round
	stopReason  error         // why the run stopped before the end of its inputs
	drainPeriod time.Duration // how long an interrupted run still waits for outcomes
	reported    int           // entries of round at its start already reported and checkpointed
	settled     chan struct{} // holds a token when an outcome came since checkpointPrefix last ran

	mu       sync.Mutex // guards the fields below
	round    []entry
	byID     map[string][]int // messageId -> indexes in round awaiting an outcome
	results  int
	expected int           // messages of the round, once it is closed; -1 before
	allIn    chan struct{} // closed when results reaches expected
}

// maxRoundTextBytes bounds the text of invalid lines a round holds for the
// bad file.
const maxRoundTextBytes = 8 << 20

func newPipeline(inputs []input, window int) *pipeline {
	return &pipeline{inputs: inputs, window: window, byID: make(map[string][]int), expected: -1, allIn: make(chan struct{}), drainPeriod: 30 * time.Second, settled: make(chan struct{}, 1)}
}

// onResult is the client's WithCallback function.
func (p *pipeline) onResult(r analytics.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	idx, ok := p.byID[r.MessageID]
	if !ok {
		return
	}
	i := idx[0]
	if len(idx) == 1 {
		delete(p.byID, r.MessageID)
	} else {
		p.byID[r.MessageID] = idx[1:]
	}
	e := &p.round[i]
	e.done, e.err = true, r.Err
	if r.Err == nil {
		p.counts.delivered.Add(1)
	} else {
		p.counts.failed.Add(1)
	}
	p.results++
	if p.results == p.expected {
		close(p.allIn)
	}
	select {
	case p.settled <- struct{}{}:
	default: // a token is waiting already
	}
}

// run reads every input and sends its messages. It returns an error only
// for a failure of the command itself (the bad file or the checkpoint
// cannot be written); lines that were not sent are counted, and
// p.stopReason says why the run ended early.
func (p *pipeline) run(ctx context.Context, makeSource func(int, io.Reader) (source, error)) error {
	startFile, startLine := 0, int64(0)
	if p.ckpt != nil {
		startFile, startLine = p.ckpt.File, p.ckpt.Line
	}
	for i := startFile; i < len(p.inputs); i++ {
		in := p.inputs[i]
		rc, err := in.open()
		if err != nil {
			p.stopReason = err
			break
		}
		src, err := makeSource(i, countingReader{rc, &p.counts.bytes})
		if err == nil && i == startFile && startLine > 0 {
			err = src.skip(startLine)
			p.counts.skipped.Store(p.counts.bytes.Load())
		}
		if err != nil {
			rc.Close()
			p.stopReason = fmt.Errorf("%s: %w", in.name, err)
			break
		}
		p.pos.file, p.pos.line = i, startLine
		err = p.readAll(ctx, i, src)
		rc.Close()
		if err != nil {
			return err
		}
		if p.stopReason != nil {
			break
		}
		p.pos.file, p.pos.line = i+1, 0
		startLine = 0
	}
	return p.endRound(ctx)
}

// readAll sends the records of src, the source of input i.
func (p *pipeline) readAll(ctx context.Context, i int, src source) error {
	for {
		if ctx.Err() != nil {
			p.stopReason = errInterrupted
			return nil
		}
		rec, err := src.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			p.stopReason = fmt.Errorf("%s: %w", p.inputs[i].name, err)
			return nil
		}
		p.counts.read.Add(1)
		p.pos.line = rec.line
		switch {
		case rec.blank:
			p.counts.blank.Add(1)
		case rec.err != nil:
			p.addInvalid(i, rec, rec.err)
		default:
			p.enqueue(ctx, i, rec)
		}
		if p.stopReason != nil {
			return nil
		}
		select {
		case <-p.settled:
			if err := p.checkpointPrefix(); err != nil {
				return err
			}
		default:
		}
		if p.roundMsgs >= p.window || p.roundBytes >= maxRoundTextBytes {
			if err := p.endRound(ctx); err != nil {
				return err
			}
			if p.stopReason != nil {
				return nil
			}
		}
	}
}

var errInterrupted = errors.New("interrupted")

func (p *pipeline) addInvalid(i int, rec record, err error) {
	p.counts.invalid.Add(1)
	p.roundBytes += len(rec.text)
	p.mu.Lock()
	p.round = append(p.round, entry{file: i, line: rec.line, text: string(rec.text), err: err})
	p.mu.Unlock()
}

func (p *pipeline) enqueue(ctx context.Context, i int, rec record) {
	msg, id, _ := withMessageID(rec.msg, p.ids.id(p.inputs[i].name, rec.line, rec.text))
	// Register the message before Enqueue: its outcome may come before
	// Enqueue returns.
	p.mu.Lock()
	idx := len(p.round)
	p.round = append(p.round, entry{file: i, line: rec.line, id: id})
	p.byID[id] = append(p.byID[id], idx)
	p.mu.Unlock()

	err := p.client.EnqueueContext(ctx, msg)
	if err == nil {
		p.roundMsgs++
		return
	}
	p.mu.Lock()
	p.round = p.round[:idx]
	if q := p.byID[id]; len(q) <= 1 {
		delete(p.byID, id)
	} else {
		p.byID[id] = q[:len(q)-1]
	}
	p.mu.Unlock()
	if ctx.Err() != nil {
		p.stopReason = errInterrupted
		return
	}
	if errors.Is(err, analytics.ErrClosed) {
		p.stopReason = err
		return
	}
	p.addInvalid(i, rec, errors.New(strings.TrimPrefix(err.Error(), "analytics: ")))
}

// endRound waits for the outcome of every message of the round, reports
// the bad lines in input order, and writes the checkpoint.
func (p *pipeline) endRound(ctx context.Context) error {
	p.mu.Lock()
	p.expected = p.roundMsgs
	if p.results == p.expected {
		close(p.allIn)
	}
	allIn := p.allIn
	p.mu.Unlock()

	if p.roundMsgs > 0 {
		if err := p.awaitRound(ctx, allIn); err != nil {
			return err
		}
	}

	p.mu.Lock()
	round := p.round[p.reported:]
	p.round = nil
	clear(p.byID)
	p.results, p.expected, p.allIn = 0, -1, make(chan struct{})
	p.mu.Unlock()
	p.roundMsgs, p.roundBytes, p.reported = 0, 0, 0

	// Where the checkpoint may move to: past the whole round, or to just
	// before the first message whose failure may pass.
	advance := !p.frozen
	file, line := p.pos.file, p.pos.line
	var badBytes int64
	if p.ckpt != nil {
		badBytes = p.ckpt.BadBytes
	}
	for k := range round {
		e := &round[k]
		if e.id != "" && e.err == nil && e.done {
			continue
		}
		if e.id != "" && !e.done {
			e.err = errors.New("no outcome: the run was stopped before the API answered")
			p.counts.failed.Add(1)
		}
		final := e.id == "" || isFinal(e.err)
		if !final && !p.frozen {
			p.frozen = true
			if p.stopReason == nil {
				p.stopReason = fmt.Errorf("line %d of %s was not delivered: %v", e.line, p.inputs[e.file].name, e.err)
			}
			file, line = e.file, e.line-1
			if p.bad != nil {
				size, err := p.bad.sync()
				if err != nil {
					return err
				}
				badBytes = size
			}
		}
		if err := p.report(e); err != nil {
			return err
		}
	}
	if p.ckpt == nil {
		return nil
	}
	if advance {
		size, err := p.bad.sync()
		if err != nil {
			return err
		}
		if !p.frozen {
			badBytes = size
		}
		p.ckpt.File, p.ckpt.Line, p.ckpt.BadBytes = file, line, badBytes
		p.ckpt.Done = file == len(p.inputs)
		return p.ckpt.save(p.path)
	}
	return nil
}

// awaitRound flushes the client and waits for the outcome of every
// message of the round, moving the checkpoint as outcomes come. An
// interrupted run still delivers for drainPeriod: what is delivered need
// not be sent again.
func (p *pipeline) awaitRound(ctx context.Context, allIn <-chan struct{}) error {
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(p.drainPeriod, cancel) })
	flushed := make(chan struct{})
	// This goroutine flushes the round; each message's outcome comes to
	// onResult. It ends when Flush returns, at the latest when fctx is
	// cancelled on the way out of awaitRound.
	go func() {
		defer close(flushed)
		_ = p.client.Flush(fctx)
	}()
	defer func() {
		stop()
		cancel()
		<-flushed
	}()
	wait := flushed
	var grace <-chan time.Time
	for {
		select {
		case <-allIn:
			return nil // endRound reports the rest and checkpoints
		case <-fctx.Done():
			return nil
		case <-wait:
			// Flush has returned, so every outcome has been decided;
			// this only bounds the wait for the callbacks.
			wait, grace = nil, time.After(10*time.Second)
		case <-grace:
			return nil
		case <-p.settled:
			if err := p.checkpointPrefix(); err != nil {
				return err
			}
		}
	}
}

// checkpointPrefix reports the lines at the start of the round, from
// p.reported on, whose outcomes are all final (delivered, refused for
// good, or invalid), and moves the checkpoint past them. It stops at the
// first message without an outcome or with one that may pass, which
// endRound deals with. It runs on the goroutine that calls run.
func (p *pipeline) checkpointPrefix() error {
	if p.ckpt == nil || p.frozen {
		return nil
	}
	p.mu.Lock()
	k := p.reported
	for k < len(p.round) {
		e := &p.round[k]
		if e.id != "" && (!e.done || e.err != nil && !isFinal(e.err)) {
			break
		}
		k++
	}
	prefix := slices.Clone(p.round[p.reported:k])
	p.mu.Unlock()
	if len(prefix) == 0 {
		return nil
	}
	for k := range prefix {
		if err := p.report(&prefix[k]); err != nil {
			return err
		}
	}
	p.reported += len(prefix)
	size, err := p.bad.sync()
	if err != nil {
		return err
	}
	last := prefix[len(prefix)-1]
	p.ckpt.File, p.ckpt.Line, p.ckpt.BadBytes, p.ckpt.Done = last.file, last.line, size, false
	return p.ckpt.save(p.path)
}

// report writes e to the bad file, unless it was delivered.
func (p *pipeline) report(e *entry) error {
	if e.id != "" && e.done && e.err == nil {
		return nil
	}
	rec := badRecord{File: p.inputs[e.file].name, Line: e.line, Reason: e.err.Error()}
	if e.id == "" {
		rec.Input = e.text
	} else {
		rec.MessageID = e.id
	}
	return p.bad.add(rec)
}

// isFinal reports whether a message that failed with err would fail again
// if sent again: the API refused it with a status that is not retried.
func isFinal(err error) bool {
	var apiErr *analytics.APIError
	return errors.As(err, &apiErr) && !apiErr.Retryable
}
