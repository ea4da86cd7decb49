package analytics

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
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

// maxSpoolSegmentBytes is the size of one segment file of the spool, for
// caps of 64 MiB and more; a smaller cap has segments of an eighth of it
// (at least 64 KiB), so that a segment still holding one message pins
// little of the cap.
const maxSpoolSegmentBytes = 8 << 20

// spoolConfig is what the spool options set.
type spoolConfig struct {
	dir          string
	sync         time.Duration
	syncSet      bool
	maxBytes     int64
	maxBytesSet  bool
	segmentBytes int64    // tests make it small
	fs           spool.FS // tests inject faults
}

// WithSpool makes the client keep every message in an append-only log in
// dir until the API has accepted it or refused it for good, so that a
// crash, a kill -9 or a redeploy during an outage loses nothing, and an
// outage longer than the memory queue holds is absorbed by the disk.
//
// With a spool:
//   - Enqueue returns nil only once the encoded message is written to the
//     log (its write(2) has returned: the bytes are the operating
//     system's). Enqueue calls made while another's write is under way
//     share the next write(2), and with WithSpoolSync(0) the next fsync
//     (a group commit). It refuses with ErrQueueFull only when the spool
//     holds WithSpoolMaxBytes of messages (EnqueueContext waits for
//     room), and returns the error of a write the disk refused (a full
//     disk).
//   - Messages are read back from the log into the memory queue in order,
//     as it has room; the memory queue's bounds no longer refuse anything.
//   - New on a dir left with messages sends them first, with their
//     original messageId and timestamp (the very bytes encoded then); a
//     Flush right after New waits for them too. A message whose batch was
//     in flight at a crash is sent again: delivery is at least once.
//   - A message leaves the spool when the API accepted it or refused its
//     content (400, 413, 422). One given up after its retries is not a
//     failure: it is sent again, read from where it is
//     (Stats.SpoolRequeued), after a wait as long as the retries' longest
//     (RetryPolicy.WaitMax), or as soon as a batch is delivered. One refused
//     for the key (401, 403) is parked and sent again once a request
//     succeeds, or as a probe after 10 s, then 20 s, … up to 5 min. One
//     refused with another status (404, say) counts as failed and stays
//     for the next client on dir, as do those given up or refused for the
//     key once Shutdown has begun. Shutdown sends the parked ones once
//     more when it begins.
//   - Shutdown and Close deliver what waits on disk as well as in memory
//     until their deadline; what is left then stays for the next client.
//   - Space comes back as deliveries complete segment files.
//   - Damage is survived: a torn last record (a crash mid-write) is
//     dropped; a damaged region is skipped and the messages lost in it
//     are reported (Stats.FailedSpool); the damaged file is renamed aside
//     once the rest of it is delivered.
//
// One client at a time may use dir: a second New on it fails (flock(2),
// so Linux, macOS and the BSDs). RELIABILITY.md says what is promised and
// how it is tested; the log's format and the reasons for it are in
// internal/spool.
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
// nothing whatever d is. 0 fsyncs every message before Enqueue returns;
// concurrent Enqueue calls share an fsync (see BENCHMARKS.md for the
// cost); a negative d never fsyncs, leaving write-back to the operating
// system. It needs WithSpool.
func WithSpoolSync(d time.Duration) Option {
	return func(c *config) error {
		c.spool.sync, c.spool.syncSet = d, true
		return nil
	}
}

// WithSpoolMaxBytes caps the spool's files at n bytes (default
// DefaultSpoolMaxBytes, 1 GiB), room for their delivery records included.
// At the cap Enqueue returns ErrQueueFull, and EnqueueContext waits for
// delivered messages to free space. n must be at least 1 MiB. It needs
// WithSpool.
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
	pending, recovered, requeued, torn, damagedAtOpen, writeErrors int64
}

// spooler joins the spool's log to the batcher.
//
// Every message Enqueue accepts is appended to the log and reserved a
// number in the batcher (batcher.reserve); the feeder goroutine reads the
// log in order and admits each message into the memory queue as it has
// room. A message given up after its retries is reserved again and queued
// for the feeder by reference (redo): its record is read again from where
// it is, and acknowledged once it is done. So the log holds each message
// once, whatever the retries.
type spooler struct {
	log *spool.Log
	b   *batcher
	c   *Client

	// mu orders each group's append with its numbering and publication,
	// and each redo with them, so that the feeder admits messages in the
	// order the batcher numbered them. It guards everything below it, but
	// is not held across the write(2) of a group. Lock order: mu, then
	// batcher.mu and the log's lock. committed (L: &mu) is broadcast when
	// a group is written.
	mu        sync.Mutex
	committed sync.Cond
	closed    bool          // Shutdown began: no appends, no redos, no releases
	full      bool          // the spool refused a message and has not taken one since
	open      *group        // the group Enqueue calls join now; nil if none
	writing   bool          // a leader is writing a group
	spare     []*group      // groups done with, for reuse
	redo      []redo        // messages to send again, oldest first
	parked    []redo        // messages refused for the key, waiting to be released (ack, feed)
	probe     time.Duration // the wait before the next probe (see idle)
	probeAt   time.Time     // when the next probe is due, while parked runs wait
	// delivered counts the batches acknowledged with a message delivered:
	// a redo run waiting to be due (awaitDue) goes at once when it moves.
	delivered uint64
	awaiting  bool // the feeder waits in awaitDue

	lostAtOpen int           // damaged regions New found: one lost message each
	wake       chan struct{} // capacity 1: a record was appended, a redo queued or made due, or intake closed
	fed        chan struct{} // closed when the feeder returns
	closeOnce  sync.Once     // closeLog's
}

// group is a group commit: the records of Enqueue calls made while an
// earlier group was being written, appended together by one of them, the
// leader, with one write(2) (and, with WithSpoolSync(0), one fsync), and
// numbered and published together (see append). It is guarded by
// spooler.mu, except its batch while the leader writes it.
type group struct {
	batch    spool.Batch
	done     bool  // written: accepted and err are set
	accepted int   // records appended, from the first
	err      error // why the others were not
	members  int   // Enqueue calls that have not read the result yet
}

// redo is a run of messages given up after their retries, to be admitted
// again before any record appended after at, and not before due (zero:
// at once).
type redo struct {
	at   spool.Position
	refs []spool.Ref
	due  time.Time
	gen  uint64 // spooler.delivered when the feeder took the run
}

var errSpoolOptions = errors.New("analytics: WithSpoolSync and WithSpoolMaxBytes need WithSpool")

// Errors of the messages the spool loses, in Result.Err and DeliveryError:
// they match ErrSpoolLost.
var (
	// ErrSpoolLost matches (with errors.Is) the error of every message
	// the spool lost: damaged or unreadable on disk. Such messages are
	// counted in Stats.FailedSpool.
	ErrSpoolLost = errors.New("analytics: lost by the spool")

	errSpoolDamaged    = fmt.Errorf("%w: in a damaged region of its files (a disk or file system fault)", ErrSpoolLost)
	errSpoolUnreadable = fmt.Errorf("%w: the disk failed to read it; left in the spool for the next client on its directory", ErrSpoolLost)
	errSpoolFormat     = fmt.Errorf("%w: a record of a format this version cannot read (left in the spool for a newer client)", ErrSpoolLost)
)

// openSpool opens the spool of cfg, if any, and reserves what it recovered.
func (c *Client) openSpool() error {
	sc := c.cfg.spool
	if sc.dir == "" {
		if sc.syncSet || sc.maxBytesSet {
			return errSpoolOptions
		}
		return nil
	}
	opt := spool.Options{MaxBytes: DefaultSpoolMaxBytes, Sync: DefaultSpoolSync, Logger: c.logger, FS: sc.fs}
	if sc.syncSet {
		opt.Sync = sc.sync
	}
	if sc.maxBytesSet {
		opt.MaxBytes = sc.maxBytes
	}
	opt.SegmentBytes = min(maxSpoolSegmentBytes, max(opt.MaxBytes/8, 64<<10))
	if sc.segmentBytes > 0 {
		opt.SegmentBytes = sc.segmentBytes
	}
	log, rec, err := spool.Open(sc.dir, opt)
	if err != nil {
		return fmt.Errorf("analytics: WithSpool(%q): %w", sc.dir, err)
	}
	sp := &spooler{log: log, b: c.b, c: c, lostAtOpen: rec.Damaged,
		wake: make(chan struct{}, 1), fed: make(chan struct{})}
	sp.committed.L = &sp.mu
	b := c.b
	// Numbered first: the feeder admits them first, the lost ones before
	// the others.
	_ = b.reserve(rec.Records+rec.Damaged, reserveRecovered)
	b.mu.Lock()
	b.stats.spool.torn = int64(rec.Torn)
	b.stats.spool.damagedAtOpen = int64(rec.Damaged)
	b.mu.Unlock()
	if rec.Records > 0 {
		c.logger.Info("analytics: spool: sending the messages an earlier client left", "messages", rec.Records, "dir", sc.dir)
	}
	c.spool = sp
	b.closing = sp.stopIntake
	b.addSource()
	go sp.feed()
	return nil
}

// The spool's record of a message, after the log's own framing: version 2,
// the type, when it was written (Unix nanoseconds), the offsets of the
// messageId and the event name in the message, and the message:
//
//	2 | len(type) | type | written int64 | idStart idEnd eventStart eventEnd uint32 | message
//
// Version 1 (0.2.0) had the event name as a string instead of its offsets,
// and no written time; both are read.
const spoolRecordVersion = 2

// appendSpoolRecord appends the spool's record of the message e encoded.
func appendSpoolRecord(b []byte, e *encoder) []byte {
	b = append(b, spoolRecordVersion, byte(len(e.typ)))
	b = append(b, e.typ...)
	b = binary.LittleEndian.AppendUint64(b, uint64(e.now.UnixNano()))
	for _, v := range [...]int{e.idStart, e.idEnd, e.eventStart, e.eventEnd} {
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	return append(b, e.buf...)
}

var errSpoolRecord = errors.New("analytics: spool: record of an unknown format")

// spoolRecord is a record parsed by parseSpoolRecord.
type spoolRecord struct {
	it      item // its data is the record's
	written time.Time
}

// parseSpoolRecord is the inverse of appendSpoolRecord; the item's data is
// p's.
func parseSpoolRecord(p []byte) (spoolRecord, error) {
	if len(p) < 2 || (p[0] != 1 && p[0] != spoolRecordVersion) {
		return spoolRecord{}, errSpoolRecord
	}
	version, n := p[0], int(p[1])
	p = p[2:]
	if len(p) < n {
		return spoolRecord{}, errSpoolRecord
	}
	var r spoolRecord
	r.it.typ = messageType(p[:n])
	p = p[n:]
	var offs [4]uint32
	if version == 1 {
		if len(p) < 2 {
			return spoolRecord{}, errSpoolRecord
		}
		n = int(binary.LittleEndian.Uint16(p))
		p = p[2:]
		if len(p) < n+8 {
			return spoolRecord{}, errSpoolRecord
		}
		r.it.event = string(p[:n])
		p = p[n:]
		offs[0], offs[1] = binary.LittleEndian.Uint32(p), binary.LittleEndian.Uint32(p[4:])
		p = p[8:]
	} else {
		if len(p) < 8+16 {
			return spoolRecord{}, errSpoolRecord
		}
		r.written = time.Unix(0, int64(binary.LittleEndian.Uint64(p)))
		p = p[8:]
		for i := range offs {
			offs[i] = binary.LittleEndian.Uint32(p[4*i:])
		}
		p = p[16:]
	}
	if offs[0] > offs[1] || int(offs[1]) > len(p) || offs[2] > offs[3] || int(offs[3]) > len(p) {
		return spoolRecord{}, errSpoolRecord
	}
	r.it.data = p
	r.it.idStart, r.it.idEnd = int32(offs[0]), int32(offs[1])
	r.it.eventStart, r.it.eventEnd = int32(offs[2]), int32(offs[3])
	return r, nil
}

// messageType returns the message type named by b, as the constant the
// encoder uses, so that reading a record allocates nothing for it.
func messageType(b []byte) string {
	switch string(b) {
	case "track":
		return "track"
	case "identify":
		return "identify"
	case "page":
		return "page"
	case "screen":
		return "screen"
	case "group":
		return "group"
	case "alias":
		return "alias"
	}
	return string(b)
}

// enqueue appends the message e encoded to the log and reserves its
// number. At the spool's cap it returns ErrQueueFull, or with block set
// waits for room until ctx ends.
func (sp *spooler) enqueue(ctx context.Context, block bool, e *encoder) error {
	for {
		// Taken before the append, so that space freed after the append
		// found none wakes the wait below.
		var room <-chan struct{}
		if block {
			room = sp.log.Room()
		}
		err := sp.append(e)
		if !errors.Is(err, spool.ErrFull) {
			return err
		}
		if !block {
			sp.b.mu.Lock()
			sp.b.stats.droppedFull++
			sp.b.mu.Unlock()
			return ErrQueueFull
		}
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		case <-sp.b.stop:
			return ErrClosed
		}
	}
}

// append appends the record of e to the log, with the records of the
// Enqueue calls made at the same time (a group commit), and returns once
// the group is written: the record's bytes are the operating system's,
// and it is numbered. The first member of a group to find no other group
// being written leads it: it takes the group out of intake, writes it
// without mu, then numbers and publishes what was written; the other
// members wait for it. So the log's order, the numbering and what a
// Reader may read stay one order, and concurrent Enqueue calls share a
// write(2).
func (sp *spooler) append(e *encoder) error {
	sp.mu.Lock()
	if sp.closed {
		sp.mu.Unlock()
		return ErrClosed
	}
	g := sp.open
	if g == nil {
		g = sp.newGroupLocked()
		sp.open = g
	}
	i := g.batch.Len()
	g.batch.Begin()
	g.batch.Buf = appendSpoolRecord(g.batch.Buf, e)
	if err := g.batch.End(); err != nil {
		sp.mu.Unlock()
		return fmt.Errorf("analytics: message not accepted: %w", err)
	}
	g.members++
	for !g.done {
		if !sp.writing && sp.open == g {
			sp.leadLocked(g)
			continue
		}
		sp.committed.Wait()
	}
	var err error
	if i >= g.accepted {
		err = g.err
	}
	if g.members--; g.members == 0 {
		g.batch.Reset()
		*g = group{batch: g.batch}
		sp.spare = append(sp.spare, g)
	}
	wasFull, first := sp.full, !sp.full
	sp.full = err != nil && !errors.Is(err, ErrClosed)
	sp.mu.Unlock()
	switch {
	case err == nil:
		if wasFull {
			sp.c.logger.Info("analytics: spool has room again; accepting messages")
		}
		return nil
	case errors.Is(err, ErrClosed):
		return err
	case errors.Is(err, spool.ErrFull):
		if first {
			sp.c.logger.Warn("analytics: spool full; refusing messages until delivered ones free space",
				"bytes", sp.log.Bytes(), "dir", sp.c.cfg.spool.dir)
		}
		return err
	}
	sp.b.mu.Lock()
	sp.b.stats.spool.writeErrors++
	sp.b.mu.Unlock()
	if first {
		sp.c.logger.Error("analytics: spool cannot write; refusing messages until it can", "error", err, "dir", sp.c.cfg.spool.dir)
	}
	return fmt.Errorf("analytics: message not accepted: %w", err)
}

// leadLocked writes the open group g, numbers and publishes what it wrote,
// and wakes its members. It is called with mu held, releases it for the
// write, and returns with it held.
func (sp *spooler) leadLocked(g *group) {
	sp.open = nil
	if sp.closed {
		g.err, g.done = ErrClosed, true
		sp.committed.Broadcast()
		return
	}
	sp.writing = true
	sp.mu.Unlock()
	n, err := sp.log.AppendBatch(&g.batch)
	sp.mu.Lock()
	sp.writing = false
	if n > 0 {
		// Not closed: stopIntake waits for a group being written.
		_ = sp.b.reserve(n, reserveNew)
		sp.log.Publish()
		sp.wakeFeeder()
	}
	g.accepted, g.err, g.done = n, err, true
	sp.committed.Broadcast()
}

// newGroupLocked returns an empty group, reusing one if it can.
func (sp *spooler) newGroupLocked() *group {
	if n := len(sp.spare); n > 0 {
		g := sp.spare[n-1]
		sp.spare[n-1] = nil
		sp.spare = sp.spare[:n-1]
		return g
	}
	return new(group)
}

func (sp *spooler) wakeFeeder() {
	select {
	case sp.wake <- struct{}{}:
	default:
	}
}

// stopIntake is called when Shutdown begins (batcher.closing): no append
// or redo is made from now on, and the feeder, once it has admitted what
// the spool holds, returns. The parked runs are released first, a last
// probe each: Shutdown is this client's last chance to send them, and a
// key refused a moment ago may be taken now (the API refused a request
// sent before it came back). Those refused again stay for the next
// client.
func (sp *spooler) stopIntake() {
	sp.mu.Lock()
	for sp.writing {
		sp.committed.Wait() // what it writes is numbered before intake closes
	}
	if len(sp.parked) > 0 && !sp.closed {
		// Numbered before intake closes, while the feeder runs: it
		// admits them before it returns.
		sp.releaseLocked(len(sp.parked))
	}
	sp.closed = true
	sp.committed.Broadcast() // the members of an open group fail with ErrClosed
	sp.mu.Unlock()
	sp.wakeFeeder()
}

// feed is the feeder goroutine: the spool's one source of the memory
// queue. It admits, in the order the batcher numbered them, the records of
// the log and the redo runs, waiting for room in the queue, and for each
// redo run to be due (awaitDue); records it cannot read are admitted as
// lost. It returns once Shutdown has begun and it has admitted everything,
// or when Shutdown's context ends.
func (sp *spooler) feed() {
	defer close(sp.fed)
	defer sp.b.sourceDone()
	if sp.lostAtOpen > 0 {
		sp.b.admitLost(sp.lostAtOpen, errSpoolDamaged)
	}
	r := sp.log.NewReader()
	var rbuf []byte // a redo's record
	for {
		rec, ok := r.Next()
		if !ok {
			sp.mu.Lock()
			// Appends hold mu: none can come between this look and the
			// choice below.
			rec, ok = r.Next()
			if !ok {
				// At the end of the log: every redo is due.
				run, due := sp.popRedoLocked(nil)
				closed := sp.closed
				sp.mu.Unlock()
				if due {
					if rbuf = sp.admitRedo(run, rbuf); rbuf == nil {
						return
					}
					continue
				}
				if closed {
					return
				}
				if !sp.idle() {
					return
				}
				continue
			}
			sp.mu.Unlock()
		}
		if rec.Lost > 0 {
			cause := errSpoolDamaged
			if rec.Kept {
				cause = errSpoolUnreadable
			}
			sp.b.admitLost(rec.Lost, cause)
			continue
		}
		// Runs given up before this record was appended go first.
		pos := rec.Ref.Position()
		for {
			sp.mu.Lock()
			run, due := sp.popRedoLocked(&pos)
			sp.mu.Unlock()
			if !due {
				break
			}
			if rbuf = sp.admitRedo(run, rbuf); rbuf == nil {
				return
			}
		}
		if !sp.admitRecord(rec.Payload, rec.Ref) {
			return
		}
	}
}

// Probes of a key the API refused: the feeder releases one parked run
// after the wait, which doubles from minProbe to maxProbe while the API
// refuses the key, and goes back to minProbe once it takes a request. A
// probe's run parked again keeps the wait, so that it grows with a single
// parked run too.
const (
	minProbe = 10 * time.Second
	maxProbe = 5 * time.Minute
)

// idle waits, with nothing to read, for the feeder to be woken, or for a
// parked run to be due for a probe, which it releases. It reports false
// once Shutdown's context has ended.
func (sp *spooler) idle() bool {
	sp.mu.Lock()
	var probe <-chan time.Time
	if len(sp.parked) > 0 {
		t := time.NewTimer(time.Until(sp.probeAt))
		defer t.Stop()
		probe = t.C
	}
	sp.mu.Unlock()
	select {
	case <-sp.wake:
	case <-probe:
		sp.mu.Lock()
		if len(sp.parked) > 0 && !sp.closed {
			sp.releaseLocked(1)
			sp.probe = min(2*sp.probe, maxProbe)
			sp.probeAt = time.Now().Add(sp.probe)
		}
		sp.mu.Unlock()
	case <-sp.b.aborted:
		return false
	}
	return true
}

// popRedoLocked removes and returns the oldest redo run if it is due
// before a record at pos (nil: at the end of the log, any run is).
func (sp *spooler) popRedoLocked(pos *spool.Position) (redo, bool) {
	if len(sp.redo) == 0 || (pos != nil && pos.Before(sp.redo[0].at)) {
		return redo{}, false
	}
	run := sp.redo[0]
	run.gen = sp.delivered
	sp.redo[0] = redo{}
	sp.redo = sp.redo[1:]
	if len(sp.redo) == 0 {
		sp.redo = nil
	}
	return run, true
}

// admitRedo admits the messages of run, read again from the log into buf,
// once it is due. It returns the buffer for the next run, or nil if the
// feeder must stop.
func (sp *spooler) admitRedo(run redo, buf []byte) []byte {
	if !sp.awaitDue(run) {
		return nil
	}
	if buf == nil {
		buf = make([]byte, 0, 4<<10)
	}
	for _, ref := range run.refs {
		p, err := sp.log.ReadRecord(ref, buf)
		if err != nil {
			sp.c.logger.Error("analytics: spool: cannot read a message again to retry it", "error", err)
			if spool.IsDamaged(err) {
				sp.log.Forfeit(ref)
				sp.b.admitLost(1, errSpoolDamaged)
			} else {
				sp.b.admitLost(1, errSpoolUnreadable) // left for the next client
			}
			continue
		}
		buf = p[:0]
		if !sp.admitRecord(p, ref) {
			return nil
		}
	}
	return buf
}

// awaitDue waits until run is due: a run given up after its retries is
// sent again after a wait as long as a further retry's would be (up to
// RetryPolicy.WaitMax), so that an outage is not sent batches as fast as
// it refuses them (with MaxAttempts 1, say). It goes at once when a
// batch is delivered meanwhile (the API takes requests again) or Shutdown
// begins. The runs behind it wait too, in their order; the batcher cuts
// what is queued meanwhile (batcher.sourceWaiting). It reports false once
// Shutdown's context has ended.
func (sp *spooler) awaitDue(run redo) bool {
	sp.mu.Lock()
	wait := time.Until(run.due)
	goNow := wait <= 0 || sp.closed || sp.delivered != run.gen
	sp.awaiting = !goNow
	sp.mu.Unlock()
	if goNow {
		return true
	}
	defer func() {
		sp.mu.Lock()
		sp.awaiting = false
		sp.mu.Unlock()
	}()
	sp.b.sourceWaiting(1)
	defer sp.b.sourceWaiting(-1)
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return true
		case <-sp.b.aborted:
			return false
		case <-sp.wake:
			sp.mu.Lock()
			goNow = sp.closed || sp.delivered != run.gen
			sp.mu.Unlock()
			if goNow {
				return true
			}
		}
	}
}

// redoWait returns how long a run given up after its retries waits before
// it is sent again: a random wait in [w/2, w] with w RetryPolicy.WaitMax,
// as the retries' own backoff is once it reaches its cap.
func (sp *spooler) redoWait() time.Duration {
	w := sp.c.cfg.retry.WaitMax
	return w/2 + rand.N(w-w/2+1)
}

// admitRecord admits the message of record p at ref into the memory queue,
// waiting for room; one it cannot parse is acknowledged and admitted as
// lost. It reports false once Shutdown's context has ended.
func (sp *spooler) admitRecord(p []byte, ref spool.Ref) bool {
	r, err := parseSpoolRecord(p)
	if err != nil {
		// Written by a newer version, most likely (a downgrade): it is
		// lost to this client, and left on disk for a client that reads
		// it.
		sp.c.logger.Error("analytics: spool: a record of a format this version cannot read; left in the spool", "error", err)
		sp.b.admitLost(1, errSpoolFormat)
		return true
	}
	r.it.ref = ref
	return sp.b.admit(r.it, fromSpool, await, sp.b.aborted) == nil
}

// ack removes from the spool the messages of bt that were delivered or
// whose content the API refused, and takes back (batcher.requeue) those
// the spool sends again, marking their errors as *requeuedError: those
// given up after their retries are queued again (a redo run, due after a
// wait: see awaitDue);
// those refused for the key (401, 403) are parked, and queued again once
// a request succeeds, or one run at a time as a probe (see feed). Once
// Shutdown has begun, or for any other failure, messages stay for the
// next client, and so do the runs still parked. A delivered message makes
// the redo runs due at once. It runs in report, on the goroutine that
// reports bt (a sender, the output goroutine of WithOutput, or the
// batcher for a batch Shutdown abandoned), with bt's final outcome,
// outside the batcher's lock, before the batch is reported.
func (sp *spooler) ack(bt *batch) {
	if bt.lost != nil {
		return // placeholders: nothing of them is in the log
	}
	var done, again, park []spool.Ref
	var againAt, parkAt []int
	delivered := false
	retry := sp.c.deliveryCtx.Err() == nil
	for i := range bt.items {
		var err error
		if bt.errs != nil {
			err = bt.errs[i]
		}
		switch {
		case err == nil:
			delivered = true
			done = append(done, bt.items[i].ref)
		case refusedForGood(err):
			done = append(done, bt.items[i].ref)
		case retry && givenUp(err):
			again = append(again, bt.items[i].ref)
			againAt = append(againAt, i)
		case retry && refusedForKey(err):
			park = append(park, bt.items[i].ref)
			parkAt = append(parkAt, i)
		default:
			// Left in the log: the next client on the directory sends it.
			bt.errs[i] = &keptError{err: err}
		}
	}
	sp.log.Ack(done)
	sp.mu.Lock()
	wake := false
	if delivered {
		sp.delivered++
		for i := range sp.redo {
			sp.redo[i].due = time.Time{} // the API takes requests: no waiting
		}
		wake = len(sp.redo) > 0 || sp.awaiting
		sp.probe = minProbe // the API takes the key: probes start over
		// Not once Shutdown has begun: the feeder may have returned, and
		// messages numbered that it never admits would keep the batcher
		// from cutting the last batch. What is parked then stays for the
		// next client.
		if len(sp.parked) > 0 && !sp.closed {
			sp.releaseLocked(len(sp.parked))
			wake = true
		}
	}
	if sp.closed || len(again)+len(park) == 0 {
		// Once Shutdown has begun, nothing is sent again by this client.
		for _, i := range againAt {
			bt.errs[i] = &keptError{err: bt.errs[i]}
		}
		for _, i := range parkAt {
			bt.errs[i] = &keptError{err: bt.errs[i]}
		}
		sp.mu.Unlock()
		if wake {
			sp.wakeFeeder() // it may be idle, or waiting for a run to be due
		}
		return // kept for the next client
	}
	if len(again) > 0 {
		sp.redo = append(sp.redo, redo{at: sp.log.Published(), refs: again, due: time.Now().Add(sp.redoWait())})
	}
	if len(park) > 0 {
		if len(sp.parked) == 0 {
			sp.probe = max(sp.probe, minProbe)
			sp.probeAt = time.Now().Add(sp.probe)
		}
		sp.parked = append(sp.parked, redo{refs: park})
	}
	for _, i := range againAt {
		bt.errs[i] = &requeuedError{err: bt.errs[i]}
	}
	var parkedErr error
	for _, i := range parkAt {
		bt.errs[i] = &requeuedError{err: bt.errs[i], parked: true}
		parkedErr = bt.errs[i]
	}
	sp.b.requeue(bt, len(again), len(park), parkedErr)
	sp.mu.Unlock()
	sp.wakeFeeder()
}

// releaseLocked moves the oldest n parked runs to the redo runs, numbering
// their messages now.
func (sp *spooler) releaseLocked(n int) {
	for _, run := range sp.parked[:n] {
		run.at = sp.log.Published()
		sp.redo = append(sp.redo, run)
		_ = sp.b.reserve(len(run.refs), reserveReleased)
	}
	clear(sp.parked[:n])
	sp.parked = sp.parked[n:]
	if len(sp.parked) == 0 {
		sp.parked = nil
	}
}

// refusedForKey reports whether err is the API refusing the API key.
func refusedForKey(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden)
}

// requeuedError is the error of a message the spool sends again: given up
// after its retries, or refused for the key (parked). It is not delivered
// yet, and not lost.
type requeuedError struct {
	err    error
	parked bool
}

func (e *requeuedError) Error() string {
	if e.parked {
		return "analytics: not delivered yet; the spool sends it again once the API takes the key: " + e.err.Error()
	}
	return "analytics: not delivered yet; the spool sends it again: " + e.err.Error()
}

func (e *requeuedError) Unwrap() error { return e.err }

// keptError is the error of a message that failed for this client but
// stays in the spool, for the next client on its directory to send: one
// given up or refused for the key once Shutdown has begun (see ack), or
// refused with a status that is neither for good nor for the key (404).
type keptError struct{ err error }

func (e *keptError) Error() string {
	return e.err.Error() + " (kept in the spool for the next client on its directory)"
}

func (e *keptError) Unwrap() error { return e.err }

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

// closeLog closes the spool's log, once, releasing its directory.
func (sp *spooler) closeLog() {
	sp.closeOnce.Do(func() {
		if err := sp.log.Close(); err != nil {
			sp.c.logger.Error("analytics: spool: closing", "error", err)
		}
	})
}

// closeAfter returns wait followed by closing the spool: once the senders
// have reported every batch (and acknowledged what was delivered) and the
// feeder has stopped reading.
func (sp *spooler) closeAfter(wait func()) func() {
	return func() {
		wait()
		<-sp.fed
		sp.closeLog()
	}
}

// fill adds the log's figures to st.
func (sp *spooler) fill(st *Stats) {
	lc := sp.log.Counters()
	st.SpoolBytes = sp.log.Bytes()
	st.SpoolSyncs = sp.log.Syncs()
	st.SpoolDamaged += lc.Damaged
	st.SpoolSetAside = lc.SetAside
	st.SpoolUnwrittenAcks = int64(lc.UnwrittenAcks)
}

func (s *spoolCounters) fill(st *Stats) {
	st.SpoolPending = s.pending
	st.SpoolRecovered = s.recovered
	st.SpoolRequeued = s.requeued
	st.SpoolTorn = s.torn
	st.SpoolDamaged = s.damagedAtOpen
	st.SpoolWriteErrors = s.writeErrors
}

// errKeptInSpool is the cause of the messages Shutdown did not send while
// they wait in the spool for the next client on its directory.
var errKeptInSpool = errors.New("analytics: not sent before Shutdown ended; kept in the spool for the next client on its directory")

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

// SpoolInfo is what InspectSpool found in a spool's directory.
type SpoolInfo struct {
	// Messages counts the messages waiting to be sent.
	Messages int
	// Types counts them by type ("track", "identify", …).
	Types map[string]int
	// Bytes is the size of the spool's segment and delivery-record files.
	Bytes int64
	// Segments counts the segment files.
	Segments int
	// Oldest is when the oldest waiting message was written to the spool;
	// zero if there is none (or it was written by version 0.2.0, which did
	// not record it).
	Oldest time.Time
	// Torn is the size of the bytes after the last intact message of the
	// newest segment: a write cut short by a crash, or one in progress.
	Torn int64
	// Damaged lists the damaged regions of the segment files.
	Damaged []SpoolRegion
	// SetAside lists the damaged segment files renamed aside.
	SetAside []string
	// Unreadable lists the segment files that could not be read.
	Unreadable []string
	// Unparsable counts records of a format this version cannot read.
	Unparsable int
}

// SpoolRegion is a damaged region of a spool's segment file.
type SpoolRegion struct {
	File          string
	Offset, Bytes int64
}

// InspectSpool reads the spool in dir (see WithSpool) and says what it
// holds, without changing or sending anything. It takes no lock, so it
// works while a client owns the directory, and then sees the files as
// they are at that moment. It fails if dir cannot be read.
func InspectSpool(dir string) (SpoolInfo, error) {
	return inspectSpool(dir, nil)
}

func inspectSpool(dir string, fsys spool.FS) (SpoolInfo, error) {
	info := SpoolInfo{Types: map[string]int{}}
	sum, err := spool.Inspect(dir, fsys, func(p []byte) {
		r, err := parseSpoolRecord(p)
		if err != nil {
			info.Unparsable++
			return
		}
		info.Types[r.it.typ]++
		if !r.written.IsZero() && (info.Oldest.IsZero() || r.written.Before(info.Oldest)) {
			info.Oldest = r.written
		}
	})
	if err != nil {
		return SpoolInfo{}, fmt.Errorf("analytics: InspectSpool(%q): %w", dir, err)
	}
	info.Messages = sum.Records
	info.Bytes = sum.Bytes
	info.Segments = len(sum.Segments)
	info.Torn = sum.Torn
	for _, r := range sum.Damaged {
		info.Damaged = append(info.Damaged, SpoolRegion{File: r.File, Offset: r.Offset, Bytes: r.Bytes})
	}
	info.SetAside = sum.SetAside
	info.Unreadable = sum.Unreadable
	return info, nil
}
