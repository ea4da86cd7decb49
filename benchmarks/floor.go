package benchmarks

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// floorClient is the floor of the tables before issue 22, kept as the
// row "oldfloor" so that its distance from the lean floor (leanfloor.go),
// which replaced it as "floor", can be measured in the same run; its code
// is as it was. Each call appends its message, written by hand (no maps,
// no reflection), straight into the body of the batch request being
// built, under one mutex; a full batch (batch messages, or close to the API's
// 500 KB) is handed to 4 sender goroutines that POST it with net/http,
// read the answer to the end and close it, so connections are reused. A
// body buffer is reused once net/http has closed it (floorBody), so the
// steady state allocates nothing per event. It has no validation, no
// retries, no size checks, no outcome reporting, no flush interval: what
// cdpkit does beyond it is the price of those.
type floorClient struct {
	hc    *http.Client
	url   string
	batch int // most messages in a request

	// mu guards buf and n: the batch being built.
	mu  sync.Mutex
	buf []byte
	n   int

	out  chan []byte // full bodies to the senders
	free chan []byte // bodies net/http has closed
	wg   sync.WaitGroup

	closeOnce sync.Once

	errMu sync.Mutex
	err   error // the first failed request
}

// floorMaxBody cuts a batch before the API's 500 KB limit.
const floorMaxBody = 450 << 10

func newFloor(cfg clientConfig) (benchClient, error) {
	f := &floorClient{
		hc:    &http.Client{Transport: cfg.transport},
		url:   cfg.endpoint + "/v1/batch",
		batch: cfg.batch(),
		out:   make(chan []byte),
		free:  make(chan []byte, 8),
	}
	f.buf = f.newBody()
	for range 4 {
		f.wg.Add(1)
		go f.send()
	}
	return f, nil
}

func (f *floorClient) newBody() []byte {
	select {
	case b := <-f.free:
		return append(b[:0], `{"batch":[`...)
	default:
		return append(make([]byte, 0, 64<<10), `{"batch":[`...)
	}
}

// add appends one message with appendMsg and hands the batch over when it
// is full.
func (f *floorClient) add(appendMsg func([]byte) []byte) error {
	f.mu.Lock()
	if f.n > 0 {
		f.buf = append(f.buf, ',')
	}
	f.buf = appendMsg(f.buf)
	f.n++
	var full []byte
	if f.n >= f.batch || len(f.buf) >= floorMaxBody {
		full = f.cutLocked()
	}
	f.mu.Unlock()
	if full != nil {
		f.out <- full
	}
	return nil
}

func (f *floorClient) cutLocked() []byte {
	b := append(f.buf, `],"sentAt":"`...)
	b = time.Now().UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, `"}`...)
	f.buf, f.n = f.newBody(), 0
	return b
}

// send is a sender goroutine: it POSTs bodies until out is closed.
func (f *floorClient) send() {
	defer f.wg.Done()
	for b := range f.out {
		req, err := http.NewRequest(http.MethodPost, f.url, &floorBody{Reader: bytes.NewReader(b), buf: b, free: f.free})
		if err != nil {
			f.fail(err)
			continue
		}
		req.ContentLength = int64(len(b))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(apiKey, "")
		res, err := f.hc.Do(req)
		if err != nil {
			f.fail(err)
			continue
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK {
			f.fail(fmt.Errorf("status %d", res.StatusCode))
		}
	}
}

func (f *floorClient) fail(err error) {
	f.errMu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.errMu.Unlock()
}

// floorBody gives its buffer back to the free list when net/http closes
// it, which it does once it has finished reading it.
type floorBody struct {
	*bytes.Reader
	once sync.Once
	buf  []byte
	free chan []byte
}

func (b *floorBody) Close() error {
	b.once.Do(func() {
		select {
		case b.free <- b.buf:
		default:
		}
	})
	return nil
}

func (f *floorClient) TrackOrder(o *orderCompleted) error {
	return f.add(func(b []byte) []byte {
		id := randomID()
		return appendOrderCompleted(b, o, &id, time.Now())
	})
}

func (f *floorClient) Track3() error {
	return f.add(func(b []byte) []byte {
		b = append(b, `{"type":"track","messageId":"`...)
		id := randomID()
		b = appendUUID(b, &id)
		b = append(b, `","userId":`...)
		b = appendString(b, track3UserID)
		b = append(b, `,"event":`...)
		b = appendString(b, track3Event)
		b = append(b, `,"timestamp":"`...)
		b = time.Now().UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
		b = append(b, `","properties":{"button":`...)
		b = appendString(b, track3Button)
		b = append(b, `,"items":`...)
		b = strconv.AppendInt(b, track3Items, 10)
		b = append(b, `,"plan":`...)
		b = appendString(b, track3Plan)
		return append(b, `},"context":{"library":{"name":"cdpkit/analytics-go","version":"0.0.0"}}}`...)
	})
}

func (f *floorClient) Identify5() error {
	return f.add(func(b []byte) []byte {
		b = append(b, `{"type":"identify","messageId":"`...)
		id := randomID()
		b = appendUUID(b, &id)
		b = append(b, `","userId":`...)
		b = appendString(b, identifyUserID)
		b = append(b, `,"timestamp":"`...)
		b = time.Now().UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
		b = append(b, `","traits":{"email":`...)
		b = appendString(b, identifyEmail)
		b = append(b, `,"logins":`...)
		b = strconv.AppendInt(b, identifyLogins, 10)
		b = append(b, `,"name":`...)
		b = appendString(b, identifyName)
		b = append(b, `,"plan":`...)
		b = appendString(b, identifyPlan)
		b = append(b, `,"verified":`...)
		b = strconv.AppendBool(b, identifyVerified)
		return append(b, `},"context":{"library":{"name":"cdpkit/analytics-go","version":"0.0.0"}}}`...)
	})
}

// Close sends the last batch and waits for the senders. Calling it again
// only returns the result.
func (f *floorClient) Close() error {
	f.closeOnce.Do(func() {
		f.mu.Lock()
		var last []byte
		if f.n > 0 {
			last = f.cutLocked()
		}
		f.mu.Unlock()
		if last != nil {
			f.out <- last
		}
		close(f.out)
		f.wg.Wait()
	})
	f.errMu.Lock()
	defer f.errMu.Unlock()
	return f.err
}

// randomID is a random version-4 UUID from the runtime's per-thread
// ChaCha8 generator (no lock, no allocation).
func randomID() [16]byte {
	var id [16]byte
	a, c := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		id[i], id[8+i] = byte(a>>(8*i)), byte(c>>(8*i))
	}
	id[6] = 0x40 | id[6]&0x0f
	id[8] = 0x80 | id[8]&0x3f
	return id
}

// nextID fills id with a version-4-shaped UUID built from n.
func nextID(id *[16]byte, n uint64) {
	for i := range 8 {
		id[15-i] = byte(n >> (8 * i))
	}
	id[6] = 0x40 | id[6]&0x0f
	id[8] = 0x80 | id[8]&0x3f
}

func appendOrderCompleted(b []byte, o *orderCompleted, id *[16]byte, ts time.Time) []byte {
	b = append(b, `{"type":"track","messageId":"`...)
	b = appendUUID(b, id)
	b = append(b, `","userId":`...)
	b = appendString(b, o.UserID)
	b = append(b, `,"event":"Order Completed","timestamp":"`...)
	b = ts.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, '"')
	return appendOrderProperties(b, o)
}

// appendOrderProperties writes the rest of an Order Completed message
// after its timestamp: its properties and context, and the closing brace.
func appendOrderProperties(b []byte, o *orderCompleted) []byte {
	b = append(b, `,"properties":{"order_id":`...)
	b = appendString(b, o.OrderID)
	b = append(b, `,"total":`...)
	b = appendFloat(b, o.Total)
	b = append(b, `,"revenue":`...)
	b = appendFloat(b, o.Revenue)
	b = append(b, `,"currency":`...)
	b = appendString(b, o.Currency)
	b = append(b, `,"products":[`...)
	for i := range o.Products {
		p := &o.Products[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"product_id":`...)
		b = appendString(b, p.ProductID)
		b = append(b, `,"sku":`...)
		b = appendString(b, p.SKU)
		b = append(b, `,"name":`...)
		b = appendString(b, p.Name)
		b = append(b, `,"price":`...)
		b = appendFloat(b, p.Price)
		b = append(b, `,"quantity":`...)
		b = strconv.AppendInt(b, int64(p.Quantity), 10)
		b = append(b, '}')
	}
	b = append(b, `]}`...)
	return append(b, leanLibrary...)
}

const hexDigits = "0123456789abcdef"

func appendUUID(b []byte, id *[16]byte) []byte {
	for i, c := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0x0f])
	}
	return b
}

// appendFloat writes f as encoding/json does for float64.
func appendFloat(b []byte, f float64) []byte {
	abs := f
	if abs < 0 {
		abs = -abs
	}
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		b = strconv.AppendFloat(b, f, 'e', -1, 64)
		// Clean up e-09 to e-9, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
		return b
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// appendString writes s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced, everything else as is (no HTML
// escaping).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0x0f])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
