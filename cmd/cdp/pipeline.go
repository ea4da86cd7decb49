package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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
// outcome recorded.
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
	return &pipeline{inputs: inputs, window: window, byID: make(map[string][]int), expected: -1, allIn: make(chan struct{}), drainPeriod: 30 * time.Second}
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
		// Deliver even when the run was interrupted, for a while: what is
		// delivered need not be sent again.
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		stop := context.AfterFunc(ctx, func() { time.AfterFunc(p.drainPeriod, cancel) })
		_ = p.client.Flush(fctx) // the outcome of each message comes to onResult
		select {
		case <-allIn:
		case <-fctx.Done():
		case <-time.After(10 * time.Second):
			// Flush has returned, so every outcome has been decided;
			// this only bounds the wait for the callbacks.
		}
		stop()
		cancel()
	}

	p.mu.Lock()
	round := p.round
	p.round = nil
	clear(p.byID)
	p.results, p.expected, p.allIn = 0, -1, make(chan struct{})
	p.mu.Unlock()
	p.roundMsgs, p.roundBytes = 0, 0

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
		rec := badRecord{File: p.inputs[e.file].name, Line: e.line, Reason: e.err.Error()}
		if e.id == "" {
			rec.Input = e.text
		} else {
			rec.MessageID = e.id
		}
		if err := p.bad.add(rec); err != nil {
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

// isFinal reports whether a message that failed with err would fail again
// if sent again: the API refused it with a status that is not retried.
func isFinal(err error) bool {
	var apiErr *analytics.APIError
	return errors.As(err, &apiErr) && !apiErr.Retryable
}
