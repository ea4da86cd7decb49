package jsonw_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cdpkit/analytics-go/internal/jsonw"
)

// FuzzAppendString: AppendString writes exactly what encoding/json writes
// (without HTML escaping), for every string, valid UTF-8 or not, and the
// result decodes to the string with each invalid byte replaced by U+FFFD.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", "\"\\", "\x00\b\f\n\r\t\x1f\x7f", "<>&", "\u2028\u2029", "\xff\xfe", "é\xc3", "\xed\xa0\x80", "🙂\xf0\x9f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := jsonw.AppendString([]byte("x"), s)
		if got[0] != 'x' {
			t.Fatalf("AppendString changed dst")
		}
		got = got[1:]
		want, err := stdJSON(s)
		if err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("AppendString(%q) = %s, encoding/json writes %s", s, got, want)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("AppendString(%q) = %s does not decode: %v", s, got, err)
		}
		if !utf8.ValidString(back) {
			t.Fatalf("decoded string is not valid UTF-8")
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("valid string %q came back as %q", s, back)
		}
	})
}

// FuzzAppendFloat: AppendFloat writes what encoding/json writes for
// float64 and float32, and refuses exactly the values encoding/json
// refuses (NaN and infinities).
func FuzzAppendFloat(f *testing.F) {
	for _, v := range []float64{0, math.Copysign(0, -1), 1, 0.1, 1e-7, 1e21, 1e-320, math.MaxFloat64, math.NaN(), math.Inf(1)} {
		f.Add(math.Float64bits(v))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		v := math.Float64frombits(bits)
		check := func(x any, fv float64, size int) {
			want, wantErr := json.Marshal(x)
			got, err := jsonw.AppendFloat(nil, fv, size)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("AppendFloat(%v, %d): error %v, encoding/json error %v", fv, size, err, wantErr)
			}
			if err == nil && !bytes.Equal(got, want) {
				t.Fatalf("AppendFloat(%v, %d) = %s, encoding/json writes %s", fv, size, got, want)
			}
		}
		check(v, v, 64)
		check(float32(v), float64(float32(v)), 32)
	})
}

// FuzzAppendValue decodes the input as JSON (into the generic types that
// users' maps hold) and as a little program that builds values of the
// other supported types; AppendValue must agree with encoding/json byte
// for byte, or fail exactly where encoding/json fails or the nesting is
// deeper than MaxDepth, and never panic.
func FuzzAppendValue(f *testing.F) {
	for _, s := range []string{
		`null`, `{"b":1,"a":[true,false,null,"x\u0000"]}`, `[1.5e300,-0,0.000001]`, `{"\u2028":"<&>"}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
		"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10",
		"\x0a\x0a\x0a\x02\x05abcde\x0b\xff\xff\xff\xff\xff\xff\xf0\x7f",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if json.Valid(data) {
			var v any
			if err := json.Unmarshal(data, &v); err == nil {
				compareWithStd(t, v, callDepth(v), true)
			}
			d := json.NewDecoder(bytes.NewReader(data))
			d.UseNumber()
			var n any
			if err := d.Decode(&n); err == nil {
				compareWithStd(t, n, callDepth(n), true)
			}
		}
		g := &gen{data: data}
		v, depth := g.value(0)
		compareWithStd(t, v, depth, !g.inexact)
	})
}

// compareWithStd checks AppendValue(v) against encoding/json. depth is
// how deep AppendValue recurses (see callDepth). exact is false when v
// holds a value AppendValue hands to encoding/json's Marshal, which
// HTML-escapes: then the two are compared after decoding.
func compareWithStd(t *testing.T, v any, depth int, exact bool) {
	t.Helper()
	got, err := jsonw.AppendValue([]byte("["), v)
	want, wantErr := stdJSON(v)
	tooDeep := depth > jsonw.MaxDepth
	switch {
	case tooDeep || wantErr != nil:
		if err == nil {
			t.Fatalf("AppendValue(%#v) = %s, want an error (depth %d, encoding/json: %v)", v, got, depth, wantErr)
		}
		if string(got[:1]) != "[" {
			t.Fatalf("AppendValue changed dst on failure")
		}
		return
	case err != nil && strings.Contains(err.Error(), "overflows a float64"):
		// Deliberately stricter than encoding/json, which writes a
		// number it cannot read back.
		var back any
		if json.Unmarshal(want, &back) == nil {
			t.Fatalf("AppendValue(%#v): %v, but encoding/json reads back %s", v, err, want)
		}
		return
	case err != nil:
		t.Fatalf("AppendValue(%#v): %v; encoding/json writes %s", v, err, want)
	}
	if !utf8.Valid(want) {
		// encoding/json passes invalid UTF-8 in a RawMessage or a
		// MarshalJSON result through; AppendValue replaces it.
		want = bytes.ToValidUTF8(want, []byte("\uFFFD"))
	}
	if !exact {
		var g, w any
		if err := json.Unmarshal(got[1:], &g); err != nil {
			t.Fatalf("AppendValue(%#v) = %s: invalid JSON: %v", v, got[1:], err)
		}
		_ = json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("AppendValue(%#v) = %s, encoding/json writes %s", v, got[1:], want)
		}
		return
	}
	if !bytes.Equal(got[1:], want) {
		t.Fatalf("AppendValue(%#v) = %s, encoding/json writes %s", v, got[1:], want)
	}
}

// callDepth is how deep AppendValue recurses into a decoded JSON value:
// each element of a non-empty container is one level below it. AppendValue
// refuses a value whose callDepth is over MaxDepth.
func callDepth(v any) int {
	d := -1
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			d = max(d, callDepth(e))
		}
	case []any:
		for _, e := range x {
			d = max(d, callDepth(e))
		}
	}
	return d + 1
}

// gen builds a value from fuzz bytes.
type gen struct {
	data    []byte
	pos     int
	inexact bool // a struct was generated (see compareWithStd)
}

func (g *gen) byte() byte {
	if g.pos >= len(g.data) {
		return 0
	}
	b := g.data[g.pos]
	g.pos++
	return b
}

func (g *gen) uint64() uint64 {
	var b [8]byte
	for i := range b {
		b[i] = g.byte()
	}
	return binary.LittleEndian.Uint64(b[:])
}

func (g *gen) string() string {
	n := int(g.byte() % 16)
	end := min(g.pos+n, len(g.data))
	s := string(g.data[g.pos:end])
	g.pos = end
	return s
}

type named string

type namedMap map[string]int

// value returns a value and how deep AppendValue recurses into it: one
// level per element of a non-empty map, slice or array, and one for the
// target of a pointer.
func (g *gen) value(level int) (any, int) {
	if level > 80 {
		return nil, 0
	}
	switch g.byte() % 25 {
	case 0:
		return nil, 0
	case 1:
		return g.string(), 0
	case 2:
		return g.byte()%2 == 0, 0
	case 3:
		return int(int64(g.uint64())), 0
	case 4:
		return int8(g.byte()), 0
	case 5:
		return uint64(g.uint64()), 0
	case 6:
		return math.Float64frombits(g.uint64()), 0
	case 7:
		return math.Float32frombits(uint32(g.uint64())), 0
	case 8:
		return json.Number(strconv.Itoa(int(g.byte()))), 0
	case 9:
		return named(g.string()), 0
	case 10:
		n := int(g.byte() % 4)
		m := make(map[string]any, n)
		depths := make(map[string]int, n) // a repeated key replaces the value
		for range n {
			v, vd := g.value(level + 1)
			k := g.string()
			m[k], depths[k] = v, vd
		}
		d := -1
		for _, vd := range depths {
			d = max(d, vd)
		}
		return m, d + 1
	case 11:
		n := int(g.byte() % 4)
		s := make([]any, n)
		d := -1
		for i := range s {
			var vd int
			s[i], vd = g.value(level + 1)
			d = max(d, vd)
		}
		return s, d + 1
	case 12:
		return []string{g.string(), g.string()}, 0
	case 13:
		return map[string]string{g.string(): g.string()}, 0
	case 14:
		return namedMap{g.string(): int(g.byte())}, 1
	case 15:
		return []float64{math.Float64frombits(g.uint64())}, 1
	case 16:
		return map[string]any(nil), 0
	case 17:
		return []any(nil), 0
	case 18:
		v, d := g.value(level + 1)
		if v == nil {
			return (*int)(nil), 0
		}
		p := reflect.New(reflect.TypeOf(v))
		p.Elem().Set(reflect.ValueOf(v))
		return p.Interface(), d + 1
	case 19:
		return []byte(g.string()), 0
	case 20:
		return [2]int{int(g.byte()), 3}, 1
	case 21:
		g.inexact = true
		return struct {
			S string  `json:"s"`
			F float64 `json:"f"`
		}{g.string(), math.Float64frombits(g.uint64())}, 0
	case 22:
		return make(chan int), 0
	case 23:
		// A slice of maps, which appendFast writes without reflection.
		n := int(g.byte() % 3)
		s := make([]map[string]any, n)
		d := -1
		for i := range s {
			v, vd := g.value(level + 1)
			if m, ok := v.(map[string]any); ok {
				s[i] = m
				d = max(d, vd)
			} else {
				s[i] = map[string]any{"v": v}
				d = max(d, vd+1)
			}
		}
		return s, d + 1
	default:
		return complex(float64(g.byte()), 1), 0
	}
}
