package analytics

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cdpkit/analytics-go/internal/spool"
)

// Defaults of the spool options.
const (
	// DefaultSpoolSync is how often the spool fsyncs what Enqueue wrote
	// (WithSpoolSync): a machine crash or power loss loses at most the
	// messages of the last second; a process crash loses none.
	DefaultSpoolSync = time.Second
	// DefaultSpoolMaxBytes caps the spool's files (WithSpoolMaxBytes).
	DefaultSpoolMaxBytes = 1 << 30
)

// spoolSegmentBytes is the size of one segment file of the spool. Disk
// space comes back one delivered segment at a time.
const spoolSegmentBytes = 8 << 20

// spoolConfig is what the spool options set.
type spoolConfig struct {
	dir          string
	sync         time.Duration
	syncSet      bool
	maxBytes     int64
	maxBytesSet  bool
	segmentBytes int64 // tests make it small
}

// WithSpool makes the client keep every message in an append-only log in
// dir until the API has accepted it or refused it for good, so that a
// crash, a kill -9 or a redeploy during an outage loses nothing, and an
// outage longer than the memory queue holds is absorbed by the disk.
//
// Enqueue writes the encoded message to the log (the write(2) has
// returned: the bytes are the operating system's, not a buffer's) before
// it returns nil. When the memory queue (WithQueueCapacity,
// WithQueueMaxBytes) is full, messages wait in the log only and are read
// back in order as room frees up; Enqueue refuses with ErrQueueFull only
// when the spool reaches WithSpoolMaxBytes. New on a dir left with
// messages first sends them, with their original messageId and timestamp
// (the very bytes encoded then), so the API can tell copies apart; a
// Flush right after New waits for them too. A message whose batch was in
// flight at a crash is sent again: delivery is at least once.
//
// A message leaves the spool when the API accepted it or refused its
// content (400, 413, 422). One given up after its retries counts as
// failed, as without a spool, and is queued again behind the others
// (Stats.SpoolRequeued). One refused for the key (401, 403) or with
// another status, or not sent before Shutdown ended, stays in the spool
// for the next client on dir.
//
// One client at a time may use dir: a second New on it fails (flock).
// Damage is survived: a torn last record (a crash mid-write) is dropped,
// and a damaged segment is renamed aside after its intact records are
// copied; Stats counts both. The storage is a segment log of this
// package's own (internal/spool), chosen over SQLite (cgo), bbolt (its
// file never shrinks) and tidwall/wal (it truncates by index only, while
// batches finish out of order): it needs nothing beyond the standard
// library, and deletes delivered segment files whole. WithSpool needs
// flock(2): Linux, macOS and the BSDs.
func WithSpool(dir string) Option {
	return func(c *config) error {
		if dir == "" {
			return optionError("WithSpool", "empty directory")
		}
		c.spool.dir = dir
		return nil
	}
}

// WithSpoolSync sets how often the spool fsyncs what Enqueue wrote
// (default DefaultSpoolSync, one second): a machine crash or power loss
// loses at most the messages written in the last d. A process crash loses
// nothing whatever d is. 0 fsyncs every message before Enqueue returns
// (see BENCHMARKS.md for the cost); a negative d never fsyncs, leaving
// write-back to the operating system. It needs WithSpool.
func WithSpoolSync(d time.Duration) Option {
	return func(c *config) error {
		c.spool.sync, c.spool.syncSet = d, true
		return nil
	}
}

// WithSpoolMaxBytes caps the spool's files at n bytes (default
// DefaultSpoolMaxBytes, 1 GiB). At the cap Enqueue returns ErrQueueFull,
// and EnqueueContext waits for delivered messages to free space. n must be
// at least 1 MiB. It needs WithSpool.
func WithSpoolMaxBytes(n int64) Option {
	return func(c *config) error {
		if n < 1<<20 {
			return optionError("WithSpoolMaxBytes", "%d bytes is less than 1 MiB", n)
		}
		c.spool.maxBytes, c.spool.maxBytesSet = n, true
		return nil
	}
}

// spoolCounters are the spool's figures behind Stats, guarded by
// batcher.mu with the other counters.
type spoolCounters struct {
	pending, recovered, requeued, torn, damaged, setAside, writeErrors int64
}

func (s *spoolCounters) fill(st *Stats) {
	st.SpoolPending = s.pending
	st.SpoolRecovered = s.recovered
	st.SpoolRequeued = s.requeued
	st.SpoolTorn = s.torn
	st.SpoolDamaged = s.damaged
	st.SpoolSetAside = s.setAside
	st.SpoolWriteErrors = s.writeErrors
}

// spooler joins the spool's log to the batcher.
//
// Every message Enqueue accepts is appended to the log. While the memory
// queue has room it is also pushed there, as without a spool; once the
// queue refuses one, the spooler is spilled: later messages are only
// appended, and the feeder goroutine reads them back from the log, in
// order, into the queue as it frees up, until it has caught up with the
// log's end. Recovered messages start the spooler spilled.
type spooler struct {
	log *spool.Log
	b   *batcher
	c   *Client

	// mu orders appends with the choice of where each message goes, so
	// that the log's order is the queue's. It guards spilled, full, buf,
	// and cur while spilled is false; while spilled is true cur is the
	// feeder's.
	mu      sync.Mutex
	spilled bool
	full    bool          // the spool refused a message and has not taken one since
	cur     spool.Cursor  // the first record not in the memory queue
	buf     []byte        // the record being appended
	wake    chan struct{} // capacity 1: the spooler spilled
	fed     chan struct{} // closed when the feeder returns
}

var errSpoolOptions = errors.New("analytics: WithSpoolSync and WithSpoolMaxBytes need WithSpool")

// openSpool opens the spool of cfg, if any, and queues what it recovered.
func (c *Client) openSpool() error {
	sc := c.cfg.spool
	if sc.dir == "" {
		if sc.syncSet || sc.maxBytesSet {
			return errSpoolOptions
		}
		return nil
	}
	opt := spool.Options{MaxBytes: DefaultSpoolMaxBytes, SegmentBytes: spoolSegmentBytes, Sync: DefaultSpoolSync, Logger: c.logger}
	if sc.syncSet {
		opt.Sync = sc.sync
	}
	if sc.maxBytesSet {
		opt.MaxBytes = sc.maxBytes
	}
	if sc.segmentBytes > 0 {
		opt.SegmentBytes = sc.segmentBytes
	}
	log, rec, err := spool.Open(sc.dir, opt)
	if err != nil {
		return fmt.Errorf("analytics: WithSpool(%q): %w", sc.dir, err)
	}
	sp := &spooler{log: log, b: c.b, c: c, cur: log.Start(), wake: make(chan struct{}, 1), fed: make(chan struct{})}
	b := c.b
	b.mu.Lock()
	n := int64(rec.Records)
	b.enqueued += uint64(n) // numbered first: the feeder queues them first
	b.stats.spool = spoolCounters{pending: n, recovered: n, torn: int64(rec.Torn),
		damaged: int64(rec.Damaged), setAside: int64(rec.SetAside)}
	b.mu.Unlock()
	if n > 0 {
		sp.spilled = true
		sp.wake <- struct{}{}
		c.logger.Info("analytics: spool: sending the messages an earlier client left", "messages", n, "dir", sc.dir)
	}
	c.spool = sp
	go sp.feed()
	return nil
}

// appendSpoolRecord encodes it in front of its bytes what an item needs
// besides them: version 1, the type, the event, and the messageId's offsets.
func appendSpoolRecord(b []byte, it *item) []byte {
	b = append(b, 1, byte(len(it.typ)))
	b = append(b, it.typ...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(it.event)))
	b = append(b, it.event...)
	b = binary.LittleEndian.AppendUint32(b, uint32(it.idStart))
	b = binary.LittleEndian.AppendUint32(b, uint32(it.idEnd))
	return append(b, it.data...)
}

var errSpoolRecord = errors.New("analytics: spool: record of an unknown format")

// parseSpoolRecord is the inverse of appendSpoolRecord; the item keeps p.
func parseSpoolRecord(p []byte) (item, error) {
	if len(p) < 2 || p[0] != 1 {
		return item{}, errSpoolRecord
	}
	n := int(p[1])
	p = p[2:]
	if len(p) < n+2 {
		return item{}, errSpoolRecord
	}
	typ := string(p[:n])
	p = p[n:]
	n = int(binary.LittleEndian.Uint16(p))
	p = p[2:]
	if len(p) < n+8 {
		return item{}, errSpoolRecord
	}
	event := string(p[:n])
	p = p[n:]
	start, end := binary.LittleEndian.Uint32(p), binary.LittleEndian.Uint32(p[4:])
	data := p[8:]
	if start > end || int(end) > len(data) {
		return item{}, errSpoolRecord
	}
	return item{data: data, typ: typ, event: event, idStart: int32(start), idEnd: int32(end)}, nil
}

// enqueue appends the message e encoded to the log, then queues it in
// memory, or leaves it to the feeder once spilled. At the spool's cap it
// returns ErrQueueFull, or with block set waits for room until ctx ends.
func (sp *spooler) enqueue(ctx context.Context, block bool, e *encoder) error {
	// it.data is the encoder's buffer until place copies it.
	it := item{data: e.buf, typ: e.typ, event: e.eventName(), idStart: int32(e.idStart), idEnd: int32(e.idEnd)}
	for {
		err := sp.place(&it, false)
		if !errors.Is(err, spool.ErrFull) {
			return err
		}
		if !block {
			sp.b.countSpool(func(s *counters) { s.droppedFull++ })
			return ErrQueueFull
		}
		if err := sp.waitRoom(ctx); err != nil {
			return err
		}
	}
}

// place appends it to the log and queues a copy of it in memory, or
// leaves it to the feeder once spilled; requeue is set for a message the
// senders gave up, appended again (see ack). It returns
// spool.ErrFull at the cap, ErrClosed once Shutdown has begun, or the
// error of the write.
func (sp *spooler) place(it *item, requeue bool) error {
	b := sp.b
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if b.isClosed() {
		return ErrClosed
	}
	sp.buf = appendSpoolRecord(sp.buf[:0], it)
	ref, err := sp.log.Append(sp.buf)
	if errors.Is(err, spool.ErrFull) {
		if !sp.full && !requeue {
			sp.c.logger.Warn("analytics: spool full; dropping messages until delivered ones free space",
				"bytes", sp.log.Bytes(), "dir", sp.c.cfg.spool.dir)
		}
		sp.full = true
		return err
	}
	if err != nil {
		b.countSpool(func(s *counters) { s.spool.writeErrors++ })
		return fmt.Errorf("analytics: message not accepted: %w", err)
	}
	if sp.full {
		sp.full = false
		sp.c.logger.Info("analytics: spool has room again; accepting messages")
	}
	if !sp.spilled {
		q := *it
		q.ref = ref
		queued, err := b.offer(q, requeue) // copies q.data into the queue
		if err == nil && queued {
			sp.cur = sp.log.End()
			return nil
		}
		if err == nil {
			sp.spilled = true // cur is where this record begins
			select {
			case sp.wake <- struct{}{}:
			default:
			}
		}
	}
	if err := b.spill(requeue); err != nil {
		// Closed after the append: the caller is told the message was
		// not taken, so it must not be sent later either.
		sp.log.Ack([]spool.Ref{ref})
		return err
	}
	return nil
}

// waitRoom waits until the spool frees space, ctx ends, or Shutdown
// begins.
func (sp *spooler) waitRoom(ctx context.Context) error {
	select {
	case <-sp.log.Room():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-sp.b.stop:
		return ErrClosed
	}
}

// feed is the feeder goroutine: while the spooler is spilled it reads the
// log from cur into the memory queue, waiting for room there; when it
// reaches the log's end it clears spilled and waits to be woken. It
// returns at Shutdown, when the queue is closed.
func (sp *spooler) feed() {
	defer close(sp.fed)
	for {
		select {
		case <-sp.wake:
		case <-sp.b.stop:
			return
		}
		for {
			p, ref, ok, err := sp.log.Next(&sp.cur)
			if !ok {
				sp.mu.Lock()
				// Appends hold mu: none can come between this look and
				// clearing spilled.
				p, ref, ok, err = sp.log.Next(&sp.cur)
				if !ok {
					sp.spilled = false
					sp.mu.Unlock()
					break
				}
				sp.mu.Unlock()
			}
			if err != nil {
				sp.c.logger.Error("analytics: spool: damaged record; the rest of its segment is lost", "error", err)
				sp.b.countSpool(func(s *counters) { s.spool.damaged++ })
				continue
			}
			it, perr := parseSpoolRecord(p)
			if perr != nil {
				sp.c.logger.Error("analytics: spool: unreadable record dropped", "error", perr)
				sp.log.Ack([]spool.Ref{ref})
				sp.b.countSpool(func(s *counters) { s.spool.damaged++ })
				if sp.b.dropFed(perr) != nil {
					return
				}
				continue
			}
			it.ref = ref
			if sp.b.pushFed(it) != nil {
				return
			}
		}
	}
}

// ack removes from the spool the messages of bt that were delivered or
// whose content the API refused; the others stay for the next client.
// It runs on a sender goroutine, with bt's final outcome, outside the
// batcher's lock.
//
// A message given up after its retries (network errors, 429, 5xx) is
// queued again behind the others, so that a long outage does not leave it
// pinning its segment until a restart: it is appended anew and its old
// record acknowledged. If that fails (the spool is full, or Shutdown has
// begun) the old record stays, for the next client.
func (sp *spooler) ack(bt *batch) {
	refs := make([]spool.Ref, 0, len(bt.items))
	for i := range bt.items {
		it := &bt.items[i]
		switch {
		case bt.errs == nil || refusedForGood(bt.errs[i]):
			refs = append(refs, it.ref)
		case sp.c.deliveryCtx.Err() == nil && givenUp(bt.errs[i]):
			if sp.place(it, true) == nil {
				refs = append(refs, it.ref)
			}
		}
	}
	sp.log.Ack(refs)
}

// givenUp reports whether err is a failure that retries might have
// overcome: a network error or a retryable status, retried until the
// attempts or the retry time ran out.
func givenUp(err error) bool {
	var apiErr *APIError
	return !errors.As(err, &apiErr) || apiErr.Retryable
}

// refusedForGood reports whether err (nil: delivered) means the message
// can leave the spool: sending it again would fare no better.
func refusedForGood(err error) bool {
	if err == nil {
		return true
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Retryable {
		return false
	}
	return splittable(apiErr.StatusCode)
}

// closeAfter returns wait followed by closing the spool: once the senders
// have reported every batch (and acknowledged what was delivered) and the
// feeder has stopped reading.
func (sp *spooler) closeAfter(wait func()) func() {
	return func() {
		wait()
		<-sp.fed
		if err := sp.log.Close(); err != nil {
			sp.c.logger.Error("analytics: spool: closing", "error", err)
		}
	}
}

// errKeptInSpool is the cause of the messages Shutdown did not send while
// they wait in the spool for the next client on its directory.
var errKeptInSpool = errors.New("analytics: not sent before Shutdown; kept in the spool for the next client on its directory")

// unfinishedCause is the cause Shutdown gives the messages it did not
// finish.
func (c *Client) unfinishedCause() error {
	if c.spool == nil {
		return c.abandoned()
	}
	if c.deliveryCtx.Err() == nil {
		return errKeptInSpool
	}
	return fmt.Errorf("%w (kept in the spool for the next client on its directory)", c.abandoned())
}

// isClosed reports whether Shutdown has begun.
func (b *batcher) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// countSpool changes counters under the batcher's lock.
func (b *batcher) countSpool(f func(*counters)) {
	b.mu.Lock()
	f(&b.stats)
	b.mu.Unlock()
}

// offer queues a copy of it, whose data the caller keeps, if the memory
// queue has room, reporting false if not (the spooler then spills;
// nothing is dropped or counted as such).
func (b *batcher) offer(it item, requeue bool) (queued bool, err error) {
	size := len(it.data)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return false, ErrClosed
	}
	if !b.q.fits(size) {
		b.cutWanted = b.enqueued
		b.mu.Unlock()
		b.signal()
		return false, nil
	}
	if requeue {
		b.stats.spool.requeued++
	} else {
		b.stats.enqueued++
	}
	b.queueAndUnlock(it)
	return true, nil
}

// spill counts a message accepted into the spool only; the feeder will
// queue it, in its turn.
func (b *batcher) spill(requeue bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	b.enqueued++
	if requeue {
		b.stats.spool.requeued++
	} else {
		b.stats.enqueued++
	}
	b.stats.spool.pending++
	return nil
}

// pushFed queues a message the feeder read from the spool, waiting for
// room; it was numbered and counted when it was spilled or recovered. Its
// data is its own (the spool's read of the record), queued as it is. It
// returns ErrClosed once Shutdown has begun.
func (b *batcher) pushFed(it item) error {
	b.mu.Lock()
	for {
		if b.closed {
			b.mu.Unlock()
			return ErrClosed
		}
		if b.q.fits(len(it.data)) {
			b.q.push(it, true)
			b.stats.spool.pending--
			b.mu.Unlock()
			b.signal()
			return nil
		}
		b.awaitCutLocked(b.stop)
	}
}

// dropFed settles as lost a message the feeder read from the spool but
// cannot queue (an unreadable record). It was numbered when it was spilled
// or recovered, so Flush waits for it: dropFed waits for the memory queue
// to empty, so that the message takes the next number cut, and finishes it
// at the barrier. It returns ErrClosed once Shutdown has begun.
func (b *batcher) dropFed(cause error) error {
	b.mu.Lock()
	for {
		if b.closed {
			b.mu.Unlock()
			return ErrClosed
		}
		if b.q.items == 0 {
			b.cut++
			b.stats.spool.pending--
			b.stats.failed++
			b.bar.finish(b.cut-1, b.cut, 1, cause)
			b.mu.Unlock()
			return nil
		}
		b.awaitCutLocked(b.stop)
	}
}
