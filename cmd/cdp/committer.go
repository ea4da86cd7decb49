package main

// committer takes the records whose outcomes are final off the tail of
// the tracker, in input order: it writes the bad ones to the bad file,
// gives their chunks back, and moves the checkpoint past them. So the
// checkpoint only ever passes a contiguous prefix of final records, and the
// bad file up to the size it records holds exactly the bad records before
// it. A checkpoint save (an fsync) covers every record that became final
// while the one before ran, so saves coalesce when batches are answered
// faster than a save takes.
//
// Its goroutine (run) is the only one that moves the tracker's tail, writes
// the bad file and saves the checkpoint.
type committer struct {
	t       *tracker
	inputs  []input
	bad     *badLog
	ckpt    *checkpoint // nil without --checkpoint
	path    string
	pool    *chunkPool
	quit    chan struct{} // closed when the run's outcomes are all in
	done    chan struct{} // closed when run returns
	err     error         // the bad file or the checkpoint could not be written
	stuck   int64         // the first record that will not be final, once known; -1 before
	readAll func() bool   // the reader read every input to its end
	pos     struct {      // the position the checkpoint records
		file int
		line int64
	}
}

// run commits until quit is closed, then commits what it can one last
// time and reports the records past the first that is not final.
func (c *committer) run() {
	defer close(c.done)
	for {
		select {
		case <-c.t.wake:
			if err := c.advance(); err != nil {
				c.fail(err)
				return
			}
		case <-c.quit:
			if err := c.finish(); err != nil {
				c.fail(err)
			}
			return
		}
	}
}

// fail records err, the first error of the committer, and stops the run.
func (c *committer) fail(err error) {
	if c.err == nil {
		c.err = err
	}
	c.t.halt(stopInput, err)
}

// committed is one record the committer takes off the tail.
type committed struct {
	seq   int64
	state slotState
	err   error
	id    string // the messageId it was sent with, if it was
	ch    *chunk
	rec   int
}

// take returns the final records at the tail, up to max, without moving
// the tail. The slots from head to the end of the window are free, so it
// needs no lock.
func (c *committer) take(buf []committed, max int) []committed {
	t := c.t
	tail := t.tail.Load()
	for seq := tail; seq < tail+t.window && len(buf) < max; seq++ {
		s := t.slot(seq)
		state := s.load()
		if !state.final() {
			break
		}
		buf = append(buf, committed{seq: seq, state: state, err: s.err, id: s.id, ch: s.ch, rec: int(s.rec)})
	}
	return buf
}

// release frees the slots of recs (the records at the tail), gives back
// the chunks they finish, and moves the tail past them.
func (c *committer) release(recs []committed) {
	t := c.t
	t.mu.Lock()
	for _, r := range recs {
		s := t.slot(r.seq)
		s.err, s.id, s.ch = nil, "", nil
		s.state.Store(uint32(stateFree))
		r.ch.left--
		if r.ch.left == 0 {
			t.held -= int64(cap(r.ch.buf))
			c.pool.put(r.ch)
		}
	}
	t.tail.Add(int64(len(recs)))
	t.space.Broadcast()
	t.mu.Unlock()
}

// advance commits the final records at the tail.
func (c *committer) advance() error {
	var buf [1024]committed
	moved := false
	for {
		recs := c.take(buf[:0], len(buf))
		if len(recs) == 0 {
			break
		}
		for i := range recs {
			if err := c.report(&recs[i]); err != nil {
				return err
			}
		}
		last := recs[len(recs)-1]
		c.pos.file, c.pos.line = last.ch.input, last.ch.recs[last.rec].line
		c.release(recs)
		moved = true
	}
	if moved && c.ckpt != nil {
		return c.save(false)
	}
	return nil
}

// save writes the checkpoint at the committed position.
func (c *committer) save(done bool) error {
	size, err := c.bad.sync()
	if err != nil {
		return err
	}
	c.ckpt.File, c.ckpt.Line, c.ckpt.BadBytes, c.ckpt.Done = c.pos.file, c.pos.line, size, done
	return c.ckpt.save(c.path)
}

// report writes the record r to the bad file if it is bad.
func (c *committer) report(r *committed) error {
	switch r.state {
	case stateRefused, stateInvalid, stateFailed, stateKeyRefused:
	default:
		return nil
	}
	rec := &r.ch.recs[r.rec]
	b := badRecord{File: c.inputs[r.ch.input].name, Line: rec.line, Reason: reason(r.err), MessageID: r.id}
	if !rec.tooLong {
		b.Input = string(r.ch.text(r.rec))
	}
	return c.bad.add(b)
}

// reason is the text of a bad record's error, without the library's
// prefix.
func reason(err error) string {
	if err == nil {
		return "not delivered"
	}
	return trimLibraryPrefix(err.Error())
}

// finish commits what it can after the last outcome, then writes the bad
// records past the first record that is not final (after the size the
// checkpoint records: a re-run cuts them, and reports them again as it
// gets to them), and saves the checkpoint one last time.
func (c *committer) finish() error {
	if err := c.advance(); err != nil {
		return err
	}
	t := c.t
	t.mu.Lock()
	tail, head := t.tail.Load(), t.head
	t.mu.Unlock()
	var size int64
	if c.ckpt != nil {
		var err error
		if size, err = c.bad.sync(); err != nil {
			return err
		}
	}
	if tail < head {
		c.stuck = tail
	}
	for seq := tail; seq < head; seq++ {
		s := t.slot(seq)
		if err := c.report(&committed{seq: seq, state: s.load(), err: s.err, id: s.id, ch: s.ch, rec: int(s.rec)}); err != nil {
			return err
		}
	}
	if c.ckpt == nil {
		return nil
	}
	kind, _ := t.stopped()
	done := tail == head && kind == stopNone && c.readAll()
	if done {
		c.pos.file, c.pos.line = len(c.inputs), 0
		if _, err := c.bad.sync(); err != nil {
			return err
		}
		return c.save(true)
	}
	c.ckpt.File, c.ckpt.Line, c.ckpt.BadBytes, c.ckpt.Done = c.pos.file, c.pos.line, size, false
	return c.ckpt.save(c.path)
}

// stuckAt returns the input and line of the first record that will not be
// final, if the run ended with one.
func (c *committer) stuckAt() (file int, line int64, ok bool) {
	if c.stuck < 0 {
		return 0, 0, false
	}
	s := c.t.slot(c.stuck)
	if s.ch == nil {
		return 0, 0, false
	}
	return s.ch.input, s.ch.recs[s.rec].line, true
}
