package benchmarks

import (
	"encoding/json"
	"testing"
	"time"
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
