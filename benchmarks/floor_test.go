package benchmarks

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"
)

// BenchmarkJSONFloorOrderCompleted appends the Order Completed message, as a
// CDP track call (type, messageId, userId, event, timestamp, properties,
// context.library), by hand into a reused buffer: no reflection, no maps, no
// allocation. The message ID is formatted from a counter rather than drawn
// at random, and the timestamp is time.Now in RFC 3339. It is the floor for
// the per-event encoding cost of any client.
func BenchmarkJSONFloorOrderCompleted(b *testing.B) {
	buf := make([]byte, 0, 1024)
	var id [16]byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		nextID(&id, uint64(i))
		buf = appendOrderCompleted(buf[:0], &order, &id, time.Now())
	}
	b.ReportMetric(float64(len(buf)), "json-B/event")
}

// TestJSONFloorIsValid checks that the floor writes the JSON it claims to.
func TestJSONFloorIsValid(t *testing.T) {
	var id [16]byte
	nextID(&id, 42)
	ts := time.Date(2025, 1, 2, 3, 4, 5, 6e6, time.UTC)
	o := order
	o.Products = append([]product{{ProductID: "p\"1\\\n\x01é", Name: "<x>", Price: 1e21, Quantity: -3}}, o.Products...)
	got := appendOrderCompleted(nil, &o, &id, ts)
	var m struct {
		Type, MessageID, UserID, Event, Timestamp string
		Properties                                struct {
			OrderID  string  `json:"order_id"`
			Total    float64 `json:"total"`
			Products []struct {
				ProductID string  `json:"product_id"`
				Price     float64 `json:"price"`
				Quantity  int     `json:"quantity"`
			} `json:"products"`
		}
	}
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if m.Type != "track" || m.Event != orderEvent || m.UserID != order.UserID ||
		m.MessageID != "00000000-0000-4000-8000-00000000002a" || m.Timestamp != "2025-01-02T03:04:05.006Z" ||
		m.Properties.OrderID != order.OrderID || m.Properties.Total != order.Total ||
		len(m.Properties.Products) != 3 || m.Properties.Products[0].ProductID != o.Products[0].ProductID ||
		m.Properties.Products[0].Price != 1e21 || m.Properties.Products[2].Quantity != 2 {
		t.Fatalf("round trip: %s\n%+v", got, m)
	}
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
	b = ts.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","properties":{"order_id":`...)
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
	b = append(b, `]},"context":{"library":{"name":"cdpkit/analytics-go","version":"0.0.0"}}}`...)
	return b
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
