package benchmarks

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// leanFloor is the floor of every table: the cheapest correct client this
// harness knows how to write. A caller writes its message by hand into a
// buffer on its own stack (no maps, no reflection, no allocation), then
// appends it to the request body being built under one mutex, held only
// for that copy. A full body goes, still under the mutex, onto a queue
// that never blocks, to leanSenders sender goroutines that POST it with
// net/http, read the answer to its end and close it (so the connection is
// kept); net/http gives the body back when it closes it. There are
// leanBodies bodies in all, so memory is bounded: when none is free a call
// waits for one (wait set) or returns errLeanFull at once.
//
// Every message it writes is one the API accepts: JSON strings escaped and
// invalid UTF-8 replaced, a random version-4 messageId, an RFC 3339
// timestamp in UTC with milliseconds, sentAt on every request, and no
// request over the API's 500 KB. A partial batch is sent on the flush
// interval and at Close.
//
// What it does not do, and cdpkit does:
//   - no validation: an empty userId or event name is sent as it is;
//   - no size check of a message (32 KB), no outcome reporting (callbacks,
//     Stats, a Flush that waits for delivery), no logging;
//   - no retries, no backoff, no Retry-After, no request timeout: a failed
//     request is counted (Close returns the first error) and its events
//     are lost;
//   - no bisection of a batch the API refuses as a whole (400, 413);
//   - no queue beyond its bodies (about 1,500 Track events at 250 a
//     request), no gzip, no default context, no transforms, no spool.
//
// Concurrency: mu guards body, n and closed. A body belongs to the caller
// holding mu while it is being filled, to the senders from full until
// they hand it to net/http, and to net/http until it closes it, which puts
// it back on free.
type leanFloor struct {
	hc       *http.Client
	url      string
	auth     string           // the Authorization header, encoded once
	batch    int              // the most messages in a request
	wait     bool             // wait for a free body rather than refuse
	tick     <-chan time.Time // the flush interval's ticks
	stopTick func()

	mu     sync.Mutex
	body   *leanBody // being filled; nil when every body is queued or in flight
	n      int       // messages in body
	closed bool

	free chan *leanBody // bodies not in use; capacity leanBodies
	full chan *leanBody // sealed bodies for the senders; capacity leanBodies, so a send never blocks
	done chan struct{}  // closed when every sender has returned

	err atomic.Pointer[error] // the first failed request
}

// leanSenders is how many requests a lean floor has in flight, as many
// as cdpkit's default (WithMaxInFlight) and the old floor's senders.
const leanSenders = 4

// leanBodies is how many request bodies a lean floor has: one per sender,
// one being filled and one waiting.
const leanBodies = leanSenders + 2

// leanMaxBody is the most bytes of a request body: the API's limit, 500 KB.
const leanMaxBody = 500_000

// leanMaxMessage is the stack buffer a message is written into; a larger
// message (not one of the benchmarks') grows onto the heap.
const leanMaxMessage = 1 << 10

// errLeanFull is the lean floor's answer when every body is in use and
// the call does not wait.
var errLeanFull = errors.New("lean floor: every body is in use")

var errLeanClosed = errors.New("lean floor: closed")

// leanBody is a request body. net/http reads it through reader and closes
// it when it is done with it; Close gives it back to the free list.
type leanBody struct {
	buf    []byte
	reader bytes.Reader
	free   chan<- *leanBody
	closed atomic.Bool
}

func (b *leanBody) Read(p []byte) (int, error) { return b.reader.Read(p) }

// leanBodyCap is a body's first capacity: a batch of 250 Track events
// with 3 properties is about 85 KB, so a body grows once, to 128 KiB.
const leanBodyCap = 64 << 10

// start empties b for a new batch.
func (b *leanBody) start() {
	if b.buf == nil {
		b.buf = make([]byte, 0, leanBodyCap)
	}
	b.buf = append(b.buf[:0], leanBodyStart...)
}

// Close returns b to the free list; net/http may call it more than once.
func (b *leanBody) Close() error {
	if b.closed.CompareAndSwap(false, true) {
		b.free <- b // never blocks: the list has room for every body
	}
	return nil
}

func newLeanFloor(cfg clientConfig) (benchClient, error) {
	t := time.NewTicker(flushInterval)
	return startLeanFloor(cfg, t.C, t.Stop), nil
}

// startLeanFloor starts a lean floor that seals a partial batch on every
// tick of tick; stopTick, if not nil, is called when it closes.
func startLeanFloor(cfg clientConfig, tick <-chan time.Time, stopTick func()) *leanFloor {
	f := &leanFloor{
		hc:       &http.Client{Transport: cfg.transport},
		url:      cfg.endpoint + "/v1/batch",
		auth:     "Basic " + base64.StdEncoding.EncodeToString([]byte(apiKey+":")),
		batch:    cfg.batch(),
		wait:     cfg.wait,
		tick:     tick,
		stopTick: stopTick,
		free:     make(chan *leanBody, leanBodies),
		full:     make(chan *leanBody, leanBodies),
		done:     make(chan struct{}),
	}
	for range leanBodies {
		b := &leanBody{free: f.free}
		b.closed.Store(true)
		f.free <- b
	}
	f.body = f.takeFree()
	var senders sync.WaitGroup
	for i := range leanSenders {
		senders.Go(func() { f.send(i == 0) })
	}
	go func() {
		senders.Wait()
		close(f.done)
	}()
	return f
}

// takeFree returns a free body, started, or nil if none is free.
func (f *leanFloor) takeFree() *leanBody {
	select {
	case b := <-f.free:
		b.start()
		return b
	default:
		return nil
	}
}

// add appends msg, a complete message, to the body being built.
func (f *leanFloor) add(msg []byte) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return errLeanClosed
	}
	if f.n > 0 && len(f.body.buf)+1+len(msg)+len(leanBodyEnd) > leanMaxBody {
		f.sealLocked()
	}
	for f.body == nil {
		if f.body = f.takeFree(); f.body != nil {
			break
		}
		if !f.wait {
			f.mu.Unlock()
			return errLeanFull
		}
		// Wait for the sender to free a body, without mu, which the
		// sender takes on its flush tick.
		f.mu.Unlock()
		b := <-f.free
		f.mu.Lock()
		if f.closed {
			f.free <- b
			f.mu.Unlock()
			return errLeanClosed
		}
		if f.body != nil {
			f.free <- b // another caller started one meanwhile
			break
		}
		b.start()
		f.body = b
	}
	if f.n > 0 {
		f.body.buf = append(f.body.buf, ',')
	}
	f.body.buf = append(f.body.buf, msg...)
	f.n++
	if f.n >= f.batch {
		f.sealLocked()
	}
	f.mu.Unlock()
	return nil
}

// leanBodyStart begins every body.
const leanBodyStart = `{"batch":[`

// leanBodyEnd is the longest end sealLocked writes.
const leanBodyEnd = `],"sentAt":"2006-01-02T15:04:05.000Z"}`

// sealLocked ends the body being built, queues it for the sender and
// starts the next one if a body is free. Called with mu held.
func (f *leanFloor) sealLocked() {
	b := f.body
	b.buf = append(b.buf, `],"sentAt":`...)
	b.buf = appendTimestamp(b.buf, time.Now())
	b.buf = append(b.buf, '}')
	f.full <- b
	f.n = 0
	f.body = f.takeFree()
}

// send is a sender goroutine: it POSTs sealed bodies, and if ticks is
// set (one sender has it) seals a partial one on every flush interval. It
// returns when full is closed and drained.
func (f *leanFloor) send(ticks bool) {
	tick := f.tick
	if !ticks {
		tick = nil
	} else if f.stopTick != nil {
		defer f.stopTick()
	}
	for {
		select {
		case b, ok := <-f.full:
			if !ok {
				return
			}
			f.post(b)
		case <-tick:
			f.mu.Lock()
			if f.n > 0 && !f.closed {
				f.sealLocked()
			}
			f.mu.Unlock()
		}
	}
}

// post sends b and records a failure.
func (f *leanFloor) post(b *leanBody) {
	b.reader.Reset(b.buf)
	b.closed.Store(false)
	req, err := http.NewRequest(http.MethodPost, f.url, b)
	if err != nil {
		_ = b.Close()
		f.fail(err)
		return
	}
	req.ContentLength = int64(len(b.buf))
	req.Header["Content-Type"] = []string{"application/json"}
	req.Header["Authorization"] = []string{f.auth}
	res, err := f.hc.Do(req) // closes b, also on error
	if err != nil {
		f.fail(err)
		return
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		f.fail(fmt.Errorf("lean floor: status %d", res.StatusCode))
	}
}

func (f *leanFloor) fail(err error) { f.err.CompareAndSwap(nil, &err) }

// Close sends what is left and waits for the sender. Calling it again
// only returns the result.
func (f *leanFloor) Close() error {
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		if f.n > 0 {
			f.sealLocked()
		}
		close(f.full)
	}
	f.mu.Unlock()
	<-f.done
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (f *leanFloor) Track3() error {
	var stack [leanMaxMessage]byte
	return f.add(appendLeanTrack3(stack[:0], time.Now()))
}

func (f *leanFloor) Identify5() error {
	var stack [leanMaxMessage]byte
	return f.add(appendLeanIdentify5(stack[:0], time.Now()))
}

func (f *leanFloor) TrackOrder(o *orderCompleted) error {
	var stack [leanMaxMessage]byte
	b := appendLeanHead(stack[:0], "track", o.UserID, time.Now())
	b = append(b, `,"event":"Order Completed"`...)
	return f.add(appendOrderProperties(b, o))
}

// leanLibrary ends every message: the context every client sends.
const leanLibrary = `,"context":{"library":{"name":"cdpkit/analytics-go","version":"0.0.0"}}}`

// appendLeanHead writes a message's opening: type, a random messageId,
// userId and timestamp.
func appendLeanHead(b []byte, typ, userID string, now time.Time) []byte {
	b = append(b, `{"type":"`...)
	b = append(b, typ...)
	b = append(b, `","messageId":"`...)
	b = appendUUIDv4(b, rand.Uint64(), rand.Uint64())
	b = append(b, `","userId":`...)
	b = appendString(b, userID)
	b = append(b, `,"timestamp":`...)
	return appendTimestamp(b, now)
}

func appendLeanTrack3(b []byte, now time.Time) []byte {
	b = appendLeanHead(b, "track", track3UserID, now)
	b = append(b, `,"event":`...)
	b = appendString(b, track3Event)
	b = append(b, `,"properties":{"button":`...)
	b = appendString(b, track3Button)
	b = append(b, `,"items":`...)
	b = strconv.AppendInt(b, track3Items, 10)
	b = append(b, `,"plan":`...)
	b = appendString(b, track3Plan)
	b = append(b, '}')
	return append(b, leanLibrary...)
}

func appendLeanIdentify5(b []byte, now time.Time) []byte {
	b = appendLeanHead(b, "identify", identifyUserID, now)
	b = append(b, `,"traits":{"email":`...)
	b = appendString(b, identifyEmail)
	b = append(b, `,"logins":`...)
	b = strconv.AppendInt(b, identifyLogins, 10)
	b = append(b, `,"name":`...)
	b = appendString(b, identifyName)
	b = append(b, `,"plan":`...)
	b = appendString(b, identifyPlan)
	b = append(b, `,"verified":`...)
	b = strconv.AppendBool(b, identifyVerified)
	b = append(b, '}')
	return append(b, leanLibrary...)
}

// appendUUIDv4 writes the version-4 UUID whose random bits are hi and lo
// (the version and variant bits are set here), without quotes.
func appendUUIDv4(b []byte, hi, lo uint64) []byte {
	hi = hi&^(0xf<<12) | 4<<12 // version 4: the high nibble of byte 6
	lo = lo&^(3<<62) | 2<<62   // variant 10: the top bits of byte 8
	var u [36]byte
	be := binary.BigEndian
	be.PutUint64(u[0:], hex8(uint32(hi>>32)))
	w := hex8(uint32(hi))
	be.PutUint32(u[9:], uint32(w>>32))
	be.PutUint32(u[14:], uint32(w))
	w = hex8(uint32(lo >> 32))
	be.PutUint32(u[19:], uint32(w>>32))
	be.PutUint32(u[24:], uint32(w))
	be.PutUint64(u[28:], hex8(uint32(lo)))
	u[8], u[13], u[18], u[23] = '-', '-', '-', '-'
	return append(b, u[:]...)
}

// hex8 returns the 8 lower-case hex digits of v, the first in the top
// byte: the nibbles are spread one to a byte, and each byte is turned
// into its digit at once ('0' + n, plus 39 more from 10 up, to reach 'a').
func hex8(v uint32) uint64 {
	x := uint64(v)
	x = (x | x<<16) & 0x0000ffff0000ffff
	x = (x | x<<8) & 0x00ff00ff00ff00ff
	x = (x | x<<4) & 0x0f0f0f0f0f0f0f0f
	letters := (x + 0x0606060606060606) >> 4 & 0x0101010101010101
	return x + 0x3030303030303030 + letters*39
}

// appendTimestamp writes t in UTC as a quoted RFC 3339 string with
// milliseconds, as time.AppendFormat does with
// "2006-01-02T15:04:05.000Z07:00" for years 0-9999 (outside them, it
// falls back to AppendFormat, which writes what it writes).
func appendTimestamp(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		b = append(b, '"')
		b = t.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
		return append(b, '"')
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	s := [26]byte{'"',
		byte('0' + year/1000), byte('0' + year/100%10), byte('0' + year/10%10), byte('0' + year%10), '-',
		byte('0' + month/10), byte('0' + month%10), '-',
		byte('0' + day/10), byte('0' + day%10), 'T',
		byte('0' + hour/10), byte('0' + hour%10), ':',
		byte('0' + minute/10), byte('0' + minute%10), ':',
		byte('0' + sec/10), byte('0' + sec%10), '.',
		byte('0' + ms/100), byte('0' + ms/10%10), byte('0' + ms%10), 'Z', '"'}
	return append(b, s[:]...)
}
