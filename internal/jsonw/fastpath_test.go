package jsonw

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendTimeMatchesAppendFormat checks the hand-written AppendTime
// against time.Time.AppendFormat(TimeLayout), which it replaces for speed.
func TestAppendTimeMatchesAppendFormat(t *testing.T) {
	ref := func(ts time.Time) string {
		return `"` + ts.UTC().Format(TimeLayout) + `"`
	}
	berlin := time.FixedZone("CET", 3600)
	times := []time.Time{
		{},
		time.Unix(0, 0),
		time.Unix(0, 999_999_999),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 30, 0, 1_000_000, berlin),
		time.Date(2024, 2, 29, 12, 0, 0, 5e5, time.UTC),
		time.Now(),
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 100_000 {
		times = append(times, time.Unix(r.Int64N(400*365*86400)-100*365*86400, r.Int64N(1e9)).In(berlin))
	}
	for _, ts := range times {
		if got, want := string(AppendTime([]byte("x"), ts)), "x"+ref(ts); got != want {
			t.Fatalf("AppendTime(%v) = %s, want %s", ts, got, want)
		}
	}
}

func BenchmarkAppendTime(b *testing.B) {
	buf := make([]byte, 0, 64)
	ts := time.Now()
	for range b.N {
		buf = AppendTime(buf[:0], ts)
	}
}

var benchProducts = []map[string]any{
	{"product_id": "507f1f77bcf86cd799439011", "sku": "45790-32", "name": "Monopoly: 3rd Edition", "price": 19.0, "quantity": 1},
	{"product_id": "505bd76785ebb509fc183733", "sku": "46493-32", "name": "Uno Card Game", "price": 3.0, "quantity": 2},
}

func BenchmarkAppendSliceOfMaps(b *testing.B) {
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for range b.N {
		buf, _ = AppendValue(buf[:0], benchProducts)
	}
}

func BenchmarkAppendMap3(b *testing.B) {
	m := map[string]any{"button": "checkout", "plan": "pro", "items": 3}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for range b.N {
		buf, _ = AppendValue(buf[:0], m)
	}
}
