package jsonw

import (
	"math"
	"math/rand/v2"
	"strconv"
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
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 30, 0, 1_000_000, berlin),
		time.Date(2024, 2, 29, 12, 0, 0, 5e5, time.UTC),
		time.Now(),
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 100_000 {
		times = append(times, time.Unix(r.Int64N(400*365*86400)-100*365*86400, r.Int64N(1e9)).In(berlin))
	}
	// Anywhere in years 0-9999, and every day around the leap days and
	// the century years.
	lo, hi := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	for range 100_000 {
		times = append(times, time.Unix(lo+r.Int64N(hi-lo), r.Int64N(1e9)))
	}
	for _, y := range []int{0, 1, 4, 100, 399, 400, 1600, 1700, 1900, 1969, 1970, 2000, 2100, 9996, 9999} {
		for d := -2; d < 3; d++ {
			if y == 0 && d < 0 {
				continue // before year 0: clamped, see TestAppendTimeOutOfRange
			}
			times = append(times, time.Date(y, 3, 1+d, 23, 59, 59, 0, time.UTC), time.Date(y, 1, 1+d, 0, 0, 0, 0, time.UTC))
		}
	}
	for _, ts := range times {
		if got, want := string(AppendTime([]byte("x"), ts)), "x"+ref(ts); got != want {
			t.Fatalf("AppendTime(%v) = %s, want %s", ts, got, want)
		}
	}
}

// TestAppendTimeOutOfRange: a time outside years 0-9999 is clamped to the
// nearest one inside, never written as text that is not RFC 3339.
func TestAppendTimeOutOfRange(t *testing.T) {
	for _, c := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), `"9999-12-31T23:59:59.999Z"`},
		{time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("W", -2*3600)), `"9999-12-31T23:59:59.999Z"`},
		{time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), `"0000-01-01T00:00:00.000Z"`},
		{time.Date(0, 1, 1, 0, 30, 0, 0, time.FixedZone("E", 3600)), `"0000-01-01T00:00:00.000Z"`},
	} {
		got := string(AppendTime(nil, c.in))
		if got != c.want {
			t.Errorf("AppendTime(%v) = %s, want %s", c.in, got, c.want)
		}
		var back time.Time
		if err := back.UnmarshalJSON([]byte(got)); err != nil {
			t.Errorf("AppendTime(%v) = %s, not RFC 3339: %v", c.in, got, err)
		}
		if TimeInRange(c.in) {
			t.Errorf("TimeInRange(%v) = true", c.in)
		}
	}
	if !TimeInRange(time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)) || !TimeInRange(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Error("TimeInRange refuses the bounds")
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

// BenchmarkAppendMap3Direct is BenchmarkAppendMap3 through AppendMap, as
// the encoder writes properties and traits.
func BenchmarkAppendMap3Direct(b *testing.B) {
	m := map[string]any{"button": "checkout", "plan": "pro", "items": 3}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for range b.N {
		buf, _ = AppendMap(buf[:0], m)
	}
}

// refAppendFloat is AppendFloat without the integer fast path.
func refAppendFloat(dst []byte, f float64, bits int) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// TestAppendFloatIntegers checks the integer fast path of AppendFloat
// against strconv, around its bounds and at random.
func TestAppendFloatIntegers(t *testing.T) {
	check := func(f float64, bits int) {
		t.Helper()
		if bits == 32 {
			f = float64(float32(f))
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return
		}
		got, err := AppendFloat(nil, f, bits)
		if want := refAppendFloat(nil, f, bits); err != nil || string(got) != string(want) {
			t.Fatalf("AppendFloat(%v, %d) = %s, %v; want %s", f, bits, got, err, want)
		}
	}
	special := []float64{0, math.Copysign(0, -1), 1, -1, 3, 19, 25, 27.5, 0.5, 1e-7, 1e20, 1e21, 1e22,
		1 << 24, 1<<24 + 1, 1<<24 - 1, 1 << 53, 1<<53 + 2, 1<<53 - 1, -(1 << 53), -(1<<53 - 1),
		123456789, 123456789012345678, math.MaxInt64, math.MinInt64, math.MaxFloat64, math.SmallestNonzeroFloat64}
	for _, f := range special {
		for _, bits := range []int{32, 64} {
			check(f, bits)
			check(-f, bits)
			check(math.Nextafter(f, 0), bits)
			check(math.Nextafter(f, math.Inf(1)), bits)
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 200_000 {
		n := r.Int64N(1<<54) - 1<<53
		check(float64(n), 64)
		check(float64(n>>r.IntN(60)), 32)
		check(math.Float64frombits(r.Uint64()), 64)
		check(float64(math.Float32frombits(r.Uint32())), 32)
	}
}

func BenchmarkAppendFloat(b *testing.B) {
	buf := make([]byte, 0, 64)
	for _, f := range []float64{19, 27.5} {
		b.Run(strconv.FormatFloat(f, 'g', -1, 64), func(b *testing.B) {
			for range b.N {
				buf, _ = AppendFloat(buf[:0], f, 64)
			}
		})
	}
}

// BenchmarkAppendString is strings of the lengths of keys and short
// values, ASCII without escapes (the common case), with an escape, and
// with non-ASCII text.
func BenchmarkAppendString(b *testing.B) {
	for _, s := range []string{"plan", "product_id", "user-8f14e45fceea167a", "Monopoly: 3rd Edition, \"deluxe\"", "Crème brûlée à la carte"} {
		b.Run(strconv.Itoa(len(s)), func(b *testing.B) {
			buf := make([]byte, 0, 128)
			b.SetBytes(int64(len(s)))
			for range b.N {
				buf = AppendString(buf[:0], s)
			}
		})
	}
}

// BenchmarkAppendMap20 is a map of more than smallKeys keys, sorted through
// the pooled key buffer: no allocation once the pool is warm.
func BenchmarkAppendMap20(b *testing.B) {
	m := map[string]any{}
	for i := range 20 {
		m["key"+strconv.Itoa(i)] = i
	}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for range b.N {
		buf, _ = AppendMap(buf[:0], m)
	}
}
