package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	analytics "github.com/cdpkit/analytics-go"
)

// counts are the run's counters. Every line read ends in exactly one of
// the others:
//
//	read == delivered + failed + invalid + skipped + blank + unsent
//
// The reader, the workers and the client's callback write them; progress
// and the summary read them.
type counts struct {
	read      atomic.Int64 // records read (lines, CSV rows)
	delivered atomic.Int64 // messages the API accepted (in a dry run: valid)
	failed    atomic.Int64 // messages that were sent and not delivered
	invalid   atomic.Int64 // records that could not be made a valid message
	skipped   atomic.Int64 // kept out by --since, --until or --skip-recent
	blank     atomic.Int64 // empty lines
	unsent    atomic.Int64 // read, and not sent because the run stopped first
	recent    atomic.Int64 // events sent (or valid) less than recentWindow old
	bytes     atomic.Int64 // bytes of input read
	skipBytes atomic.Int64 // bytes of input passed over to reach a checkpoint
}

// A recordDecoder makes records messages. Each worker has its own.
type recordDecoder interface {
	// decode makes record i of ch the message f. blank reports an empty
	// record, which is counted and not sent.
	decode(ch *chunk, i int, f *msgFields) (blank bool, err error)
	// idParts returns what --id-from hashes for the record just decoded,
	// or the name of a field it lacks.
	idParts(ch *chunk, i int) (parts [][]byte, missing string)
}

// chunkPool recycles chunks and their buffers.
type chunkPool struct{ p sync.Pool }

func (cp *chunkPool) get(input int) *chunk {
	ch, _ := cp.p.Get().(*chunk)
	if ch == nil {
		ch = &chunk{buf: make([]byte, 0, chunkBytes+4<<10)}
	}
	ch.input = input
	return ch
}

func (cp *chunkPool) put(ch *chunk) {
	if cap(ch.buf) > 4*chunkBytes {
		return // a chunk that held a very long line
	}
	clear(ch.recs)
	ch.recs, ch.buf, ch.first, ch.left = ch.recs[:0], ch.buf[:0], 0, 0
	cp.p.Put(ch)
}

// pipeline sends the records of a job's inputs through one client. A
// reader goroutine reads the inputs into chunks of records, in order; a
// worker goroutine per decoder (--decoders, by default one per CPU) makes
// each record a message and enqueues it; the client batches and sends; its
// callback hands each outcome to the tracker; the committer takes the
// records with final outcomes off the tracker's tail in order, reporting the
// bad ones and moving the checkpoint. Reading goes on while batches are in
// flight, up to the tracker's window of records.
type pipeline struct {
	job    *batchJob
	client *analytics.Client
	t      *tracker
	c      *committer
	counts *counts
	pool   chunkPool
	work   chan *chunk
	runID  string // the checkpoint's run id, for positional messageIds
	start  struct {
		file int
		line int64
	}
	now      func() time.Time
	recentTo time.Time // events after this are recent
	readAll  atomic.Bool
}

// run runs the pipeline to its end: reading, sending, and the outcome of
// every message (or the decision that it has none).
func (p *pipeline) run(ctx context.Context, decoders int) {
	t := p.t
	// runCtx ends the enqueueing of an interrupted or stopped run.
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	stopInterrupt := context.AfterFunc(ctx, func() { t.halt(stopInterrupted, errInterrupted) })
	defer stopInterrupt()
	go func() {
		select {
		case <-t.halted:
			cancelRun()
		case <-runCtx.Done():
		}
	}()
	go p.c.run()
	go p.read(runCtx)
	var wg sync.WaitGroup
	for range decoders {
		wg.Go(func() { p.worker(runCtx) })
	}
	wg.Wait()

	// Deliver what was enqueued, unless the run was halted for a reason
	// that makes sending more pointless (a refused key, a failure that may
	// pass, a bad file or checkpoint that cannot be written); an
	// interrupted run delivers for drainPeriod, and one that could not read
	// an input to its end delivers what it read.
	fctx, cancelFlush := context.WithCancel(context.Background())
	defer cancelFlush()
	stopDrain := context.AfterFunc(ctx, func() { time.AfterFunc(drainPeriod, cancelFlush) })
	defer stopDrain()
	go func() {
		select {
		case <-t.halted:
			if t.haltedFor() != stopInterrupted {
				cancelFlush()
			}
		case <-fctx.Done():
		}
	}()
	if kind := t.haltedFor(); kind == stopNone || kind == stopInterrupted {
		_ = p.client.Flush(fctx)
	}
	// Whatever has no outcome now is abandoned, not sent: at once when
	// the flush was cut short.
	t.startAbandon()
	timeout := shutdownTimeout
	if fctx.Err() != nil {
		timeout = 0
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	_ = p.client.Shutdown(sctx)
	cancel()
	t.close()
	close(p.c.quit)
	<-p.c.done
}

// read is the reader goroutine: it reads every input from the start
// position into chunks, reserves their records in the tracker, and hands
// them to the workers. It closes p.work when it ends.
func (p *pipeline) read(ctx context.Context) {
	defer close(p.work)
	for i := p.start.file; i < len(p.job.inputs); i++ {
		skip := int64(0)
		if i == p.start.file {
			skip = p.start.line
		}
		if err := p.readInput(ctx, i, skip); err != nil {
			p.t.readFailed(fmt.Errorf("%s: %w", p.job.inputs[i].name, err))
			return
		}
		if p.t.stopFlag.Load() {
			return
		}
	}
	p.readAll.Store(true)
}

func (p *pipeline) readInput(ctx context.Context, i int, skip int64) error {
	in := p.job.inputs[i]
	rc, err := in.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	r, err := decompressed(rc, &p.counts.bytes)
	if err != nil {
		return err
	}
	defer r.Close()
	sp, err := p.job.newSplitter(i, r)
	if err != nil {
		return err
	}
	if skip > 0 {
		if err := sp.skip(skip); err != nil {
			return err
		}
		p.counts.skipBytes.Store(p.counts.bytes.Load())
	}
	for {
		if ctx.Err() != nil {
			return nil
		}
		ch := p.pool.get(i)
		// A chunk takes at most half the window, so that the reader can
		// reserve the next while one is being sent.
		ch.max = max(1, int(p.t.window/2))
		err := sp.fill(ch)
		if len(ch.recs) > 0 {
			if !p.t.reserve(ch) {
				p.pool.put(ch)
				return nil
			}
			p.counts.read.Add(int64(len(ch.recs)))
			p.work <- ch
		} else {
			p.pool.put(ch)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// worker is a worker goroutine: it makes the records of the chunks it
// gets messages and enqueues them, until p.work is closed.
func (p *pipeline) worker(ctx context.Context) {
	dec := p.job.newDecoder()
	ids := newIDMaker(p.runID, p.job.idFrom)
	var f msgFields
	for ch := range p.work {
		for i := range ch.recs {
			seq := ch.first + int64(i)
			if p.t.stopFlag.Load() {
				p.counts.unsent.Add(1)
				p.t.settle(seq, stateUnsent, nil)
				continue
			}
			blank, err := dec.decode(ch, i, &f)
			switch {
			case blank:
				p.counts.blank.Add(1)
				p.t.settle(seq, stateBlank, nil)
			case err != nil:
				p.counts.invalid.Add(1)
				p.t.settle(seq, stateInvalid, err)
			default:
				p.send(ctx, seq, ch, i, &f, dec, ids)
			}
		}
	}
}

// send enqueues the message f made of record i of ch, unless the time
// window keeps it out.
func (p *pipeline) send(ctx context.Context, seq int64, ch *chunk, i int, f *msgFields, dec recordDecoder, ids *idMaker) {
	if w := p.job.window; w != nil || f.isEvent() {
		at := f.timestamp
		if at.IsZero() {
			at = p.now()
		}
		if w != nil && !w.keeps(f, at) {
			p.counts.skipped.Add(1)
			p.t.settle(seq, stateSkipped, nil)
			return
		}
		if f.isEvent() && at.After(p.recentTo) {
			p.counts.recent.Add(1)
		}
	}
	if f.messageID == "" {
		switch {
		case p.job.idFrom != nil:
			parts, missing := dec.idParts(ch, i)
			if missing != "" {
				p.counts.invalid.Add(1)
				p.t.settle(seq, stateInvalid, errIDMissing(missing))
				return
			}
			f.messageID = ids.fromParts(parts)
		case p.runID != "":
			f.messageID = ids.positional(p.job.inputs[ch.input].name, ch.recs[i].line, ch.text(i))
		default:
			f.messageID = ids.random()
		}
	}
	p.t.register(seq, f.messageID)
	err := enqueue(ctx, p.client, f)
	if err == nil {
		return
	}
	if ctx.Err() != nil || errors.Is(err, analytics.ErrClosed) {
		p.counts.unsent.Add(1)
		p.t.unregister(seq, stateUnsent, nil)
		return
	}
	p.counts.invalid.Add(1)
	p.t.unregister(seq, stateInvalid, err)
}

// enqueue builds the library's message for f at the call, so that it
// stays on the worker's stack, and enqueues it, waiting for room.
func enqueue(ctx context.Context, c *analytics.Client, f *msgFields) error {
	var cx analytics.Context
	var cp *analytics.Context
	if len(f.context) > 0 {
		cx.Extra = f.context
		cp = &cx
	}
	switch f.typ {
	case "track":
		return c.EnqueueContext(ctx, analytics.Track{UserID: f.userID, AnonymousID: f.anonymousID, Event: f.event, Properties: f.properties,
			Timestamp: f.timestamp, Context: cp, Integrations: f.integ, MessageID: f.messageID})
	case "identify":
		return c.EnqueueContext(ctx, analytics.Identify{UserID: f.userID, AnonymousID: f.anonymousID, Traits: f.traits, ObjectID: f.objectID,
			ObjectTypeID: f.objectType, RelationshipAttributes: f.relAttrs, Timestamp: f.timestamp, Context: cp, Integrations: f.integ, MessageID: f.messageID})
	case "page":
		return c.EnqueueContext(ctx, analytics.Page{UserID: f.userID, AnonymousID: f.anonymousID, Name: f.name, Category: f.category, Properties: f.properties,
			Timestamp: f.timestamp, Context: cp, Integrations: f.integ, MessageID: f.messageID})
	}
	return c.EnqueueContext(ctx, f.message())
}

// ndjsonDecoder decodes NDJSON lines.
type ndjsonDecoder struct {
	d    *lineDecoder
	from *idFrom
}

func (n *ndjsonDecoder) decode(ch *chunk, i int, f *msgFields) (bool, error) {
	if ch.recs[i].tooLong {
		return false, errLineTooLong
	}
	text := ch.text(i)
	if len(bytes.TrimSpace(text)) == 0 {
		return true, nil
	}
	return false, n.d.decode(text, f)
}

func (n *ndjsonDecoder) idParts(ch *chunk, i int) ([][]byte, string) {
	if n.from.line {
		return [][]byte{ch.text(i)}, ""
	}
	return n.d.idValues(ch.text(i))
}
