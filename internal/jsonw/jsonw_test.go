package jsonw_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/cdpkit/analytics-go/internal/jsonw"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// stdJSON encodes v as encoding/json does, without HTML escaping (jsonw
// does not HTML-escape) and without the encoder's trailing newline.
func stdJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// TestAppendStringMatchesEncodingJSON covers the escapes one by one; the
// fuzz target FuzzAppendString covers the rest.
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	cases := []string{
		"", "plain", `quote " backslash \`, "\n\r\t", "\b\f", "\x00\x01\x1f\x7f",
		"<>&", "\u2028\u2029", "é日本🙂", "\xff", "a\xc3", "\xed\xa0\x80", // a surrogate half
		"\xf4\x90\x80\x80", // above U+10FFFF
		"\uFFFD", strings.Repeat("x\x00", 100),
	}
	for _, s := range cases {
		want, err := stdJSON(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonw.AppendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("AppendString(%q) = %s, encoding/json writes %s", s, got, want)
		}
	}
}

func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e-6, 9.99e-7, 1e20, 1e21, 1.5e300, math.MaxFloat64, math.SmallestNonzeroFloat64, 123456789.123} {
		want, _ := json.Marshal(f)
		got, err := jsonw.AppendFloat(nil, f, 64)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("AppendFloat(%v, 64) = %s, %v; want %s", f, got, err, want)
		}
		want32, _ := json.Marshal(float32(f))
		got32, err := jsonw.AppendFloat(nil, float64(float32(f)), 32)
		if !math.IsInf(float64(float32(f)), 0) && (err != nil || !bytes.Equal(got32, want32)) {
			t.Errorf("AppendFloat(%v, 32) = %s, %v; want %s", float32(f), got32, err, want32)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		out, err := jsonw.AppendFloat([]byte("x"), f, 64)
		var je *jsonw.Error
		if !errors.As(err, &je) {
			t.Errorf("AppendFloat(%v): error %v, want *jsonw.Error", f, err)
		}
		if string(out) != "x" {
			t.Errorf("AppendFloat(%v) wrote %q on failure", f, out)
		}
	}
}

type textM struct{ s string }

func (m textM) MarshalText() ([]byte, error) { return []byte(m.s), nil }

type badText struct{}

func (badText) MarshalText() ([]byte, error) { return nil, errors.New("no text") }

type rawM string

func (m rawM) MarshalJSON() ([]byte, error) { return []byte(m), nil }

type panicky struct{}

func (*panicky) MarshalJSON() ([]byte, error) { panic("boom") }

type withChan struct{ C chan int }

// TestAppendValueTypes: each supported type is written as encoding/json
// writes it (compared after decoding, since encoding/json HTML-escapes
// inside values it marshals itself), and each unsupported value is an
// *Error naming its path.
func TestAppendValueTypes(t *testing.T) {
	ts := time.Date(2025, 3, 4, 5, 6, 7, 8, time.FixedZone("X", 3600))
	var nilMap map[string]int
	var nilSlice []int
	var nilPtr *int
	ok := []any{
		nil, "s", true, 1, int8(-8), int16(16), int32(-32), int64(1 << 60), uint(1), uint8(8), uint16(16), uint32(32), uint64(1 << 63),
		1.5, float32(0.1), ts, time.Date(2000, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600-1)), time.Date(2000, 1, 1, 0, 0, 0, 0, time.FixedZone("", -24*3600+1)), json.Number("12.5e3"), json.Number(""), json.RawMessage(` { "a" : [1, 2] } `),
		map[string]any{"b": 1, "a": []any{nil, "x"}}, []any{}, []string{"a"}, []string(nil), map[string]string{"k": "v"}, map[string]string(nil),
		map[string]int{"z": 1, "y": 2}, nilMap, []int{1, 2}, nilSlice, [2]bool{true, false}, nilPtr, new(int), []byte("bytes"),
		textM{"txt"}, rawM(`{"raw":true}`), struct {
			A int    `json:"a"`
			B string `json:"b,omitempty"`
		}{A: 1}, map[int]string{2: "two"},
	}
	for _, v := range ok {
		got, err := jsonw.AppendValue(nil, v)
		if err != nil {
			t.Errorf("AppendValue(%#v): %v", v, err)
			continue
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%#v): %v", v, err)
		}
		if !json.Valid(got) {
			t.Errorf("AppendValue(%#v) = %s: not valid JSON", v, got)
			continue
		}
		var g, w any
		_ = json.Unmarshal(got, &g)
		_ = json.Unmarshal(want, &w)
		if gj, _ := json.Marshal(g); !bytes.Equal(gj, mustMarshal(w)) {
			t.Errorf("AppendValue(%#v) = %s, encoding/json writes %s", v, got, want)
		}
	}

	bad := map[string]struct {
		v    any
		path string
	}{
		"NaN":         {map[string]any{"price": math.NaN()}, "price"},
		"+Inf":        {[]any{1, math.Inf(1)}, "[1]"},
		"float32 Inf": {map[string]any{"a": map[string]any{"b": float32(math.Inf(-1))}}, "a.b"},
		"chan":        {map[string]any{"c": make(chan int)}, "c"},
		"func":        {map[string]any{"f": func() {}}, "f"},
		"complex64":   {map[string]any{"z": complex64(1i)}, "z"},
		"complex128":  {[]any{complex(1, 2)}, "[0]"},
		"unsafe":      {map[string]any{"p": unsafe.Pointer(nil)}, "p"},
		"struct chan": {map[string]any{"s": withChan{}}, "s"},
		"text error":  {map[string]any{"t": badText{}}, "t"},
		"invalid raw": {map[string]any{"r": rawM(`{"a":`)}, "r"},
		"bad number":  {map[string]any{"n": json.Number("0x12")}, "n"},
		"year 10000":  {map[string]any{"t": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, "t"},
		// encoding/json refuses a zone RFC 3339 cannot write (+25:00).
		"zone +25h":    {map[string]any{"t": time.Date(2000, 1, 1, 0, 0, 0, 0, time.FixedZone("", 25*3600))}, "t"},
		"zone -24h":    {[]any{time.Date(2000, 1, 1, 0, 0, 0, 0, time.FixedZone("", -24*3600))}, "[0]"},
		"named map":    {map[string]any{"m": map[string]float64{"x": math.NaN()}}, "m.x"},
		"typed slice":  {map[string]any{"s": []float64{1, math.NaN()}}, "s[1]"},
		"pointer NaN":  {map[string]any{"p": ptr(math.NaN())}, "p"},
		"deep in list": {map[string]any{"products": []any{map[string]any{}, map[string]any{"price": math.Inf(1)}}}, "products[1].price"},
	}
	for name, tc := range bad {
		out, err := jsonw.AppendValue([]byte("prefix"), tc.v)
		var je *jsonw.Error
		if !errors.As(err, &je) {
			t.Errorf("%s: error %v, want *jsonw.Error", name, err)
			continue
		}
		if je.Path != tc.path {
			t.Errorf("%s: path %q, want %q (%v)", name, je.Path, tc.path, err)
		}
		if !bytes.HasPrefix(out, []byte("prefix")) {
			t.Errorf("%s: the bytes before the value were changed: %q", name, out)
		}
	}

	// A MarshalJSON that panics is not contained by jsonw: the client
	// recovers it around the whole message. A nil pointer Marshaler is
	// null without calling the method.
	if got, err := jsonw.AppendValue(nil, (*panicky)(nil)); err != nil || string(got) != "null" {
		t.Errorf("nil *panicky: %s, %v", got, err)
	}
}

// TestAppendMapMixedPaths: values that appendFast writes and values it
// leaves to the fallbacks, mixed at every level (inside a map, inside a
// slice inside a map, in a map of more than 16 keys, in a slice of maps),
// are written byte for byte as encoding/json writes them, through
// AppendMap, AppendValue and AppendMapEntries alike.
func TestAppendMapMixedPaths(t *testing.T) {
	ts := time.Date(2025, 3, 4, 5, 6, 7, 8_000_000, time.FixedZone("X", -7200))
	big := map[string]any{}
	for i := range 20 {
		switch i % 4 {
		case 0:
			big["k"+strconv.Itoa(i)] = i
		case 1:
			big["k"+strconv.Itoa(i)] = map[string]int{"n": i}
		case 2:
			big["k"+strconv.Itoa(i)] = []any{"s", textM{"t"}}
		default:
			big["k"+strconv.Itoa(i)] = ts
		}
	}
	cases := []map[string]any{
		{"a": "x", "b": map[string]int{"z": 1}, "c": 1.5, "d": int64(-3)},
		{"list": []any{1, "two", map[string]int{"three": 3}, textM{"four"}}},
		{"deep": []any{map[string]any{"x": textM{"t"}, "y": []any{true, nil}}}},
		{"products": []map[string]any{
			{"product_id": "p1", "price": 19.0, "quantity": 1, "tags": []string{"a"}},
			nil,
			{"raw": rawM(`{"r": 1}`), "when": ts, "n": json.Number("7")},
		}},
		{"empty": []map[string]any{}, "nil": []map[string]any(nil), "nilmap": map[string]any(nil), "nilany": []any(nil)},
		{"u": uint8(8), "f32": float32(0.25), "ms": map[string]string{"b": "2", "a": "1"}},
		big,
	}
	for i, m := range cases {
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("case %d: json.Marshal: %v", i, err)
		}
		for _, f := range []struct {
			name string
			fn   func() ([]byte, error)
		}{
			{"AppendMap", func() ([]byte, error) { return jsonw.AppendMap(nil, m) }},
			{"AppendValue", func() ([]byte, error) { return jsonw.AppendValue(nil, m) }},
			{"AppendMapEntries", func() ([]byte, error) {
				b, err := jsonw.AppendMapEntries([]byte("{"), m, nil)
				return append(b, '}'), err
			}},
		} {
			got, err := f.fn()
			if err != nil {
				t.Errorf("case %d: %s: %v", i, f.name, err)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("case %d: %s wrote\n%s\nencoding/json writes\n%s", i, f.name, got, want)
			}
		}
	}

	// Errors name their path whichever path found them.
	bad := map[string]struct {
		m    map[string]any
		path string
	}{
		"NaN in a slice of maps":           {map[string]any{"ps": []map[string]any{{}, {"price": math.NaN()}}}, "ps[1].price"},
		"NaN after a fallback in a slice":  {map[string]any{"l": []any{textM{"a"}, math.Inf(1)}}, "l[1]"},
		"NaN in a fallback in a big map":   {mergeMaps(big, map[string]any{"zz": map[string]float64{"x": math.NaN()}}), "zz.x"},
		"chan in a map in a slice of maps": {map[string]any{"ps": []map[string]any{{"c": make(chan int)}}}, "ps[0].c"},
	}
	for name, tc := range bad {
		_, err := jsonw.AppendMap(nil, tc.m)
		var je *jsonw.Error
		if !errors.As(err, &je) || je.Path != tc.path {
			t.Errorf("%s: error %v, want one at %q", name, err, tc.path)
		}
	}
}

func mergeMaps(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// nest returns a value nested depth levels deep, alternating maps and
// slices.
func nest(depth int) any {
	var v any = "leaf"
	for i := range depth {
		if i%2 == 0 {
			v = map[string]any{"k": v}
		} else {
			v = []any{v}
		}
	}
	return v
}

func TestAppendValueDepth(t *testing.T) {
	// MaxDepth levels of containers are accepted, one more is refused.
	if _, err := jsonw.AppendValue(nil, nest(jsonw.MaxDepth)); err != nil {
		t.Errorf("%d levels: %v", jsonw.MaxDepth, err)
	}
	for _, depth := range []int{jsonw.MaxDepth + 1, 1000, 100_000} {
		_, err := jsonw.AppendValue(nil, nest(depth))
		if err == nil || !strings.Contains(err.Error(), "nested deeper") {
			t.Errorf("%d levels: error %v, want nested deeper than %d", depth, err, jsonw.MaxDepth)
		}
	}

	// Cycles end at the depth limit instead of overflowing the stack.
	m := map[string]any{}
	m["self"] = m
	if _, err := jsonw.AppendValue(nil, m); err == nil {
		t.Error("a map holding itself: no error")
	}
	s := make([]any, 1)
	s[0] = s
	if _, err := jsonw.AppendValue(nil, s); err == nil {
		t.Error("a slice holding itself: no error")
	}
	type node struct{ Next *node }
	n := &node{}
	n.Next = n
	if _, err := jsonw.AppendValue(nil, map[string]any{"n": n}); err == nil {
		t.Error("a struct cycle: no error")
	}
}

func TestAppendMapEntriesAndKey(t *testing.T) {
	got, err := jsonw.AppendMapEntries([]byte("{"), map[string]any{"b": 2, "a": 1, "skip": 3}, func(k string) bool { return k == "skip" })
	if err != nil || string(got) != `{"a":1,"b":2` {
		t.Errorf("AppendMapEntries = %s, %v", got, err)
	}
	got, _ = jsonw.AppendMapEntries([]byte(`{"x":0`), map[string]any{"a": 1}, nil)
	if string(got) != `{"x":0,"a":1` {
		t.Errorf("AppendMapEntries after a field = %s", got)
	}
	got, _ = jsonw.AppendMapEntries([]byte("{"), nil, nil)
	if string(got) != "{" {
		t.Errorf("AppendMapEntries(nil) = %s", got)
	}
	if got := jsonw.AppendKey([]byte("["), "k\xff"); string(got) != `["k\ufffd":` {
		t.Errorf("AppendKey = %s", got)
	}
	_, err = jsonw.AppendMapEntries([]byte("{"), map[string]any{"a": map[string]any{"b": math.NaN()}}, nil)
	var je *jsonw.Error
	if !errors.As(err, &je) || je.Path != "a.b" {
		t.Errorf("AppendMapEntries error %v, want path a.b", err)
	}
}

func TestAppendTime(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 678_900_000, time.FixedZone("CET", 3600))
	if got := string(jsonw.AppendTime(nil, ts)); got != `"2026-01-02T02:04:05.678Z"` {
		t.Errorf("AppendTime = %s", got)
	}
}

func TestPrefix(t *testing.T) {
	err := jsonw.Prefix(&jsonw.Error{Path: "[2].x", Reason: "r"}, "list")
	if err.Error() != "list[2].x: r" {
		t.Errorf("Prefix = %v", err)
	}
	err = jsonw.Prefix(&jsonw.Error{Reason: "r"}, "k")
	if err.Error() != "k: r" {
		t.Errorf("Prefix = %v", err)
	}
	other := errors.New("other")
	if jsonw.Prefix(other, "k") != other {
		t.Error("Prefix changed an error that is not an *Error")
	}
}

// TestOverflowingNumbers: a literal too large for a float64 is an error in
// a json.Number and inside a json.RawMessage or MarshalJSON result, as
// +Inf is; an underflow to 0 and big numbers that fit are fine.
func TestOverflowingNumbers(t *testing.T) {
	for _, v := range []any{
		json.Number("1e400"),
		json.Number("-1e309"),
		json.RawMessage(`{"a":[1,"1e400",1e400]}`),
		json.RawMessage("1" + strings.Repeat("0", 400)),
		rawMarshaler(`{"n":-2E+999}`),
	} {
		if _, err := jsonw.AppendValue(nil, v); err == nil || !strings.Contains(err.Error(), "overflows") {
			t.Errorf("AppendValue(%v) error = %v, want an overflow", v, err)
		}
	}
	for _, v := range []any{
		json.Number("1e-400"),
		json.Number("1.7976931348623157e308"),
		json.RawMessage(`{"s":"1e400","n":1e300}`),
	} {
		if _, err := jsonw.AppendValue(nil, v); err != nil {
			t.Errorf("AppendValue(%v) = %v", v, err)
		}
	}
}

type rawMarshaler string

func (r rawMarshaler) MarshalJSON() ([]byte, error) { return []byte(r), nil }

// TestInvalidUTF8FromMarshalers: invalid UTF-8 inside a json.RawMessage or
// a MarshalJSON result is replaced with U+FFFD, never sent raw.
func TestInvalidUTF8FromMarshalers(t *testing.T) {
	for _, v := range []any{
		json.RawMessage("{\"k\":\"a\xffb\"}"),
		rawMarshaler("{\"k\":\"a\xffb\"}"),
	} {
		got, err := jsonw.AppendValue(nil, v)
		if err != nil {
			t.Fatalf("AppendValue(%T) = %v", v, err)
		}
		if !utf8.Valid(got) {
			t.Errorf("AppendValue(%T) = %q, invalid UTF-8", v, got)
		}
		if want := "{\"k\":\"a\uFFFDb\"}"; string(got) != want {
			t.Errorf("AppendValue(%T) = %q, want %q", v, got, want)
		}
	}
}

// countingM counts the calls of its MarshalJSON.
type countingM struct{ calls *int }

func (m countingM) MarshalJSON() ([]byte, error) { *m.calls++; return []byte(`{"n":1}`), nil }

// TestMarshalerCalledOnce: each MarshalJSON inside a value is called once,
// as encoding/json calls it, even where a slice mixes values the fast path
// writes with values it does not (the fast path must not write a map
// holding a Marshaler and then start the slice over).
func TestMarshalerCalledOnce(t *testing.T) {
	for _, depth := range []int{1, 2, 8, 63} {
		calls, want := 0, 0
		var v any = json.Number("1")
		for range depth {
			v = []any{map[string]any{"m": countingM{&calls}}, v}
			want++
		}
		got, err := jsonw.AppendValue(nil, v)
		if err != nil {
			t.Fatalf("depth %d: %v", depth, err)
		}
		if calls != want {
			t.Errorf("depth %d: MarshalJSON called %d times for %d values", depth, calls, want)
		}
		if w := string(mustMarshal(v)); string(got) != w {
			t.Fatalf("depth %d: %s, encoding/json writes %s", depth, got, w)
		}
	}
}

// TestAppendMergedEntries: the union of two maps, sorted by key together,
// the first map's value winning, skip applied to both, and either map
// empty or nil.
func TestAppendMergedEntries(t *testing.T) {
	m := map[string]any{"b": 1, "d": "m", "z": true}
	under := map[string]any{"a": 0, "d": "under", "c": []any{"x"}, "skipped": 1}
	skip := func(k string) bool { return k == "skipped" }
	for _, tc := range []struct {
		m, under map[string]any
		want     string
	}{
		{m, under, `{"a":0,"b":1,"c":["x"],"d":"m","z":true}`},
		{nil, under, `{"a":0,"c":["x"],"d":"under"}`},
		{m, nil, `{"b":1,"d":"m","z":true}`},
		{map[string]any{}, map[string]any{}, `{}`},
	} {
		got, err := jsonw.AppendMergedEntries([]byte("{"), tc.m, tc.under, skip)
		if err != nil {
			t.Fatal(err)
		}
		if string(got)+"}" != tc.want {
			t.Errorf("got %s}, want %s", got, tc.want)
		}
	}
	// An error names the key, from either map.
	if _, err := jsonw.AppendMergedEntries(nil, m, map[string]any{"bad": math.NaN()}, nil); err == nil || !strings.Contains(err.Error(), "bad") {
		t.Errorf("NaN under: %v", err)
	}
}
