// Package jsonw appends JSON to byte slices without reflection for the
// common value types, and with encoding/json as the fallback for the rest.
//
// Every function appends to dst and returns the extended slice, in the style
// of strconv.AppendInt. Output is compact and deterministic: map keys are
// sorted, as encoding/json sorts them. Strings are escaped as encoding/json
// escapes them, except that <, > and & are not HTML-escaped; invalid UTF-8 is
// replaced by U+FFFD, as encoding/json does.
package jsonw

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of maps and slices AppendValue accepts.
const MaxDepth = 64

// TimeLayout is the layout of every timestamp this library writes: ISO-8601 in
// UTC with milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Error is an encoding failure at a path inside a value, such as
// "products[1].price".
type Error struct {
	Path   string
	Reason string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

// Prefix returns err with prefix prepended to its path, if err is an *Error.
func Prefix(err error, prefix string) error {
	var je *Error
	if !errors.As(err, &je) {
		return err
	}
	// A copy, never prefix itself (a map key, say): an error outlives
	// the call, and keeping the caller's string would make it escape.
	p := strings.Clone(prefix)
	if je.Path != "" {
		if je.Path[0] == '[' {
			p += je.Path
		} else {
			p += "." + je.Path
		}
	}
	return &Error{Path: p, Reason: je.Reason}
}

const hex = "0123456789abcdef"

// safe[b] is true when ASCII byte b needs no escaping inside a JSON string.
var safe = func() (t [utf8.RuneSelf]bool) {
	for i := 0x20; i < utf8.RuneSelf; i++ {
		t[i] = i != '"' && i != '\\'
	}
	return t
}()

// AppendString appends s as a quoted, escaped JSON string.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JavaScript; escape
		// them as encoding/json does.
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendKey appends `"key":`, preceded by a comma unless dst ends with '{'
// or '['.
func AppendKey(dst []byte, key string) []byte {
	if n := len(dst); n > 0 && dst[n-1] != '{' && dst[n-1] != '[' {
		dst = append(dst, ',')
	}
	dst = AppendString(dst, key)
	return append(dst, ':')
}

// AppendFloat appends f as encoding/json formats a float64. NaN and
// infinities have no JSON form and are an error.
func AppendFloat(dst []byte, f float64, bits int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, &Error{Reason: "number " + strconv.FormatFloat(f, 'g', -1, bits) + " has no JSON form"}
	}
	// A non-zero integer whose magnitude is below 2^53 (2^24 for a
	// float32), so that every integer around it is representable, is
	// written by strconv.AppendFloat(f, 'f', -1, bits) as exactly its
	// digits; strconv.AppendInt writes the same, several times faster.
	// Prices, quantities and totals are often such numbers.
	if f == math.Trunc(f) && f != 0 && (bits == 64 && math.Abs(f) < 1<<53 || bits == 32 && math.Abs(f) < 1<<24) {
		return strconv.AppendInt(dst, int64(f), 10), nil
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}

// Bounds of the times RFC 3339 can write: years 0 to 9999, in UTC.
var (
	minTime = time.Date(0, time.January, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, time.December, 31, 23, 59, 59, 999_999_999, time.UTC)
)

// TimeInRange reports whether t falls in years 0 to 9999 once converted to
// UTC, so that AppendTime writes it as it is.
func TimeInRange(t time.Time) bool {
	return !t.Before(minTime) && !t.After(maxTime)
}

// AppendTime appends t in UTC as a quoted TimeLayout string. A time
// outside years 0 to 9999 (see TimeInRange) is clamped to the nearest one
// inside, so that the text is always RFC 3339.
func AppendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	switch {
	case t.Before(minTime):
		t = minTime
	case t.After(maxTime):
		t = maxTime
	}
	year, month, day := t.Date()
	// The same bytes as AppendFormat(TimeLayout) writes, without parsing
	// the layout on every call (a timestamp is written per message).
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6 // truncated, as AppendFormat truncates
	var b [len(`"2006-01-02T15:04:05.000Z"`)]byte
	b[0] = '"'
	b[1] = byte('0' + year/1000)
	b[2] = byte('0' + year/100%10)
	b[3] = byte('0' + year/10%10)
	b[4] = byte('0' + year%10)
	b[5] = '-'
	b[6] = byte('0' + month/10)
	b[7] = byte('0' + month%10)
	b[8] = '-'
	b[9] = byte('0' + day/10)
	b[10] = byte('0' + day%10)
	b[11] = 'T'
	b[12] = byte('0' + hour/10)
	b[13] = byte('0' + hour%10)
	b[14] = ':'
	b[15] = byte('0' + minute/10)
	b[16] = byte('0' + minute%10)
	b[17] = ':'
	b[18] = byte('0' + sec/10)
	b[19] = byte('0' + sec%10)
	b[20] = '.'
	b[21] = byte('0' + ms/100)
	b[22] = byte('0' + ms/10%10)
	b[23] = byte('0' + ms%10)
	b[24] = 'Z'
	b[25] = '"'
	return append(dst, b[:]...)
}

// AppendBool appends true or false.
func AppendBool(dst []byte, b bool) []byte {
	return strconv.AppendBool(dst, b)
}

var keysPool = sync.Pool{New: func() any { s := make([]string, 0, 16); return &s }}

// AppendValue appends the JSON encoding of v. Common types (strings,
// numbers, bools, nil, time.Time, maps with string keys and slices of
// them) are written directly; other types go through their MarshalJSON or
// MarshalText methods or encoding/json. Values JSON cannot hold (NaN,
// infinities, channels, funcs, complex numbers, cycles, nesting deeper
// than MaxDepth) are an *Error naming the path to the value.
//
// v escapes to the heap (the fallbacks need it there); AppendMap and
// AppendMapEntries do not make their map escape.
func AppendValue(dst []byte, v any) ([]byte, error) {
	return appendValue(dst, v, 0)
}

// AppendMap appends m as AppendValue does (null for a nil map), but
// neither m nor anything it points to escapes to the heap on its account:
// the caller's map, and a struct holding it, may stay on the caller's
// stack.
//
// How: appendFast, which takes the common types, keeps nothing it is
// given, and the fallback for any other type (reflection, MarshalJSON,
// encoding/json, which escape analysis must assume keep their argument) is
// handed the value through a fresh m[k] lookup. The compiler stores every
// map key and value on the heap (a map literal's and a map put's alike),
// so it ties no flow from a lookup back to the map: what the fallback gets
// is already on the heap. No unsafe is involved, so this is sound whatever
// the compiler decides; a compiler that tied lookups to their map would
// only make m escape again, which TestEncodeDoesNotAllocate (package
// analytics) would report.
func AppendMap(dst []byte, m map[string]any) ([]byte, error) {
	return appendMap(dst, m, 0)
}

// appendFast appends v if its dynamic type is one of the common types,
// without keeping v or anything it points to: no interface method call, no
// reflection, no allocation. For any other type, anywhere inside a slice
// (a map handles its own entries, see appendMap), it reports false and
// returns dst as it was, for the caller to fall back to appendValue.
func appendFast(dst []byte, v any, depth int) ([]byte, bool, error) {
	if depth > MaxDepth {
		return dst, true, errTooDeep()
	}
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), true, nil
	case string:
		return AppendString(dst, x), true, nil
	case bool:
		return strconv.AppendBool(dst, x), true, nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), true, nil
	case int64:
		return strconv.AppendInt(dst, x, 10), true, nil
	case float64:
		d, err := AppendFloat(dst, x, 64)
		return d, true, err
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), true, nil
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), true, nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), true, nil
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), true, nil
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), true, nil
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), true, nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), true, nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), true, nil
	case float32:
		d, err := AppendFloat(dst, float64(x), 32)
		return d, true, err
	case time.Time:
		// As encoding/json writes it (RFC 3339 with the value's own zone),
		// so a trait holding a time means what the caller wrote.
		if y := x.Year(); y < 0 || y > 9999 {
			return dst, true, &Error{Reason: "time year outside of range [0,9999]"}
		}
		// RFC 3339 writes a zone of at most 23:59 hours (so does
		// encoding/json, which refuses the rest).
		if _, off := x.Zone(); off <= -24*3600 || off >= 24*3600 {
			return dst, true, &Error{Reason: "time zone hour outside of range [0,23]"}
		}
		dst = append(dst, '"')
		dst = x.AppendFormat(dst, time.RFC3339Nano)
		return append(dst, '"'), true, nil
	case map[string]any:
		d, err := appendMap(dst, x, depth)
		return d, true, err
	case []any:
		if x == nil {
			return append(dst, "null"...), true, nil
		}
		// Decided before writing anything: a slice given up half way
		// would be written again by appendValue, calling again every
		// MarshalJSON in the maps before the element that stopped it.
		if !fastSlice(x, depth) {
			return dst, false, nil
		}
		start := len(dst)
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var ok bool
			var err error
			if dst, ok, err = appendFast(dst, e, depth+1); !ok {
				return dst[:start], false, nil
			} else if err != nil {
				return dst, true, Prefix(err, index(i))
			}
		}
		return append(dst, ']'), true, nil
	case []map[string]any:
		if x == nil {
			return append(dst, "null"...), true, nil
		}
		dst = append(dst, '[')
		for i, m := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if depth+1 > MaxDepth {
				return dst, true, Prefix(errTooDeep(), index(i))
			}
			if dst, err = appendMap(dst, m, depth+1); err != nil {
				return dst, true, Prefix(err, index(i))
			}
		}
		return append(dst, ']'), true, nil
	case []string:
		if x == nil {
			return append(dst, "null"...), true, nil
		}
		return AppendStrings(dst, x), true, nil
	case map[string]string:
		if x == nil {
			return append(dst, "null"...), true, nil
		}
		var small [smallKeys]string
		keys, kp := sortedKeys(x, small[:0])
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, k)
			dst = append(dst, ':')
			dst = AppendString(dst, x[k])
		}
		putKeys(kp)
		return append(dst, '}'), true, nil
	}
	return dst, false, nil
}

// fastSlice reports whether appendFast takes every element of x, a slice
// at nesting depth depth, looking into the slices in it (not into its maps,
// which write their own fallbacks) as far as MaxDepth, past which
// appendFast reports the depth.
func fastSlice(x []any, depth int) bool {
	if depth >= MaxDepth {
		return true
	}
	for _, e := range x {
		switch y := e.(type) {
		case nil, string, bool, int, int64, float64, int8, int16, int32,
			uint, uint8, uint16, uint32, uint64, float32, time.Time,
			map[string]any, []map[string]any, []string, map[string]string:
		case []any:
			if !fastSlice(y, depth+1) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// AppendStrings appends s as a JSON array of strings; null for a nil s.
func AppendStrings(dst []byte, s []string) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, e := range s {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, e)
	}
	return append(dst, ']')
}

func errTooDeep() error {
	return &Error{Reason: "nested deeper than " + strconv.Itoa(MaxDepth) + " levels"}
}

// index returns the path element of array index i.
func index(i int) string { return "[" + strconv.Itoa(i) + "]" }

// appendValue is AppendValue at depth: appendFast, and for the types it
// does not take, the fallbacks.
func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	if d, ok, err := appendFast(dst, v, depth); ok {
		return d, err
	}
	switch x := v.(type) {
	case json.Number:
		if x == "" {
			return append(dst, '0'), nil
		}
		if !json.Valid([]byte(x)) {
			return dst, &Error{Reason: fmt.Sprintf("invalid number literal %q", string(x))}
		}
		if overflows(string(x)) {
			return dst, &Error{Reason: fmt.Sprintf("number %s overflows a float64", string(x))}
		}
		return append(dst, x...), nil
	case json.RawMessage:
		return appendMarshaled(dst, x)
	case []any:
		// appendFast met an element of another type.
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendValue(dst, e, depth+1); err != nil {
				return dst, Prefix(err, index(i))
			}
		}
		return append(dst, ']'), nil
	case json.Marshaler:
		return appendMarshaler(dst, x)
	case encoding.TextMarshaler:
		if rv := reflect.ValueOf(x); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return append(dst, "null"...), nil
		}
		text, err := x.MarshalText()
		if err != nil {
			return dst, &Error{Reason: err.Error()}
		}
		return AppendString(dst, string(text)), nil
	}
	return appendReflect(dst, v, depth)
}

// appendMap writes m with sorted keys; see AppendMap for why m does not
// escape.
func appendMap(dst []byte, m map[string]any, depth int) ([]byte, error) {
	if m == nil {
		return append(dst, "null"...), nil
	}
	dst = append(dst, '{')
	dst, err := appendEntries(dst, m, depth, nil)
	if err != nil {
		return dst, err
	}
	return append(dst, '}'), nil
}

// AppendMapEntries appends the entries of m, sorted by key, as `"k":v`
// pairs, each preceded by a comma unless dst ends with '{'. Keys for which
// skip returns true are left out. It lets a typed struct and a map of extra
// keys share one JSON object. Like AppendMap, it does not make m escape.
func AppendMapEntries(dst []byte, m map[string]any, skip func(string) bool) ([]byte, error) {
	if len(m) == 0 {
		return dst, nil
	}
	return appendEntries(dst, m, 0, skip)
}

// AppendMergedEntries is AppendMapEntries for the union of m and under:
// the entries of m and those of under whose keys m lacks, sorted by key
// together, so that under's values fill in for m's as defaults. Neither
// map escapes, as with AppendMap.
func AppendMergedEntries(dst []byte, m, under map[string]any, skip func(string) bool) ([]byte, error) {
	if len(under) == 0 {
		return AppendMapEntries(dst, m, skip)
	}
	if len(m) == 0 {
		return AppendMapEntries(dst, under, skip)
	}
	kp := keysPool.Get().(*[]string)
	keys := (*kp)[:0]
	for k := range m {
		keys = append(keys, k)
	}
	for k := range under {
		if _, ok := m[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	*kp = keys
	defer putKeys(kp)
	for _, k := range keys {
		if skip != nil && skip(k) {
			continue
		}
		src := m
		v, ok := m[k]
		if !ok {
			src, v = under, under[k]
		}
		var err error
		if dst, err = appendEntry(dst, src, k, v, 0); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// appendEntries writes the entries of m (those skip, if not nil, does not
// reject), sorted by key, as the members of the object being written, whose
// nesting depth is depth. A map of at most smallKeys keys is sorted on the
// stack, with its values taken while iterating; a larger one through a
// pooled key buffer and a lookup per key.
func appendEntries(dst []byte, m map[string]any, depth int, skip func(string) bool) ([]byte, error) {
	if len(m) <= smallKeys {
		// The entries are stored straight into local arrays (not through
		// a pointer or append, which escape analysis takes for a store to
		// the heap), so that the values stay unescaped; the keys apart from
		// the values, so that skip, which is free to keep a key, does not
		// make the values escape with them.
		var keys [smallKeys]string
		var vals [smallKeys]any
		n := 0
		for k, v := range m {
			keys[n], vals[n] = k, v
			n++
		}
		sortEntries(keys[:n], vals[:n])
		for i := range n {
			k := keys[i]
			if skip != nil && skip(k) {
				continue
			}
			// appendEntry, by hand: this loop is the hot path of every
			// map.
			dst = AppendKey(dst, k)
			var ok bool
			var err error
			if dst, ok, err = appendFast(dst, vals[i], depth+1); !ok {
				dst, err = appendValue(dst, m[k], depth+1)
			}
			if err != nil {
				return dst, Prefix(err, k)
			}
		}
		return dst, nil
	}
	keys, kp := sortedKeys(m, nil)
	defer putKeys(kp)
	for _, k := range keys {
		if skip != nil && skip(k) {
			continue
		}
		var err error
		if dst, err = appendEntry(dst, m, k, m[k], depth); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// appendEntry writes `"k":v`, v being m[k], preceded by a comma unless dst
// ends with '{'. A v that appendFast does not take is looked up again for
// appendValue, so that only the lookup, never m, escapes (see AppendMap).
func appendEntry(dst []byte, m map[string]any, k string, v any, depth int) ([]byte, error) {
	dst = AppendKey(dst, k)
	dst, ok, err := appendFast(dst, v, depth+1)
	if !ok {
		dst, err = appendValue(dst, m[k], depth+1)
	}
	if err != nil {
		return dst, Prefix(err, k)
	}
	return dst, nil
}

// smallKeys is the length of the key buffer on the stack of a map's writer:
// maps up to this size need no pooled buffer.
const smallKeys = 16

// sortEntries sorts keys, and vals along with them: an insertion sort, for
// few keys.
func sortEntries(keys []string, vals []any) {
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keyLess(keys[j], keys[j-1]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
			vals[j], vals[j-1] = vals[j-1], vals[j]
		}
	}
}

// keyLess is a < b, deciding on the first bytes inline when they differ,
// as they mostly do between the keys of one map, without the call to the
// runtime's string comparison.
func keyLess(a, b string) bool {
	if len(a) > 0 && len(b) > 0 && a[0] != b[0] {
		return a[0] < b[0]
	}
	return a < b
}

// sortedKeys returns the keys of m, sorted: in small (empty, with room for
// smallKeys keys) when they fit, or else in a pooled buffer, which it
// returns too, for putKeys.
func sortedKeys[V any](m map[string]V, small []string) ([]string, *[]string) {
	if len(m) <= cap(small) {
		keys := small
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return keys, nil
	}
	kp := keysPool.Get().(*[]string)
	keys := (*kp)[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	*kp = keys
	return keys, kp
}

// putKeys returns a buffer from sortedKeys to the pool; nil is no buffer.
func putKeys(kp *[]string) {
	if kp == nil || cap(*kp) > 1024 {
		return
	}
	clear(*kp)
	*kp = (*kp)[:0]
	keysPool.Put(kp)
}

func appendMarshaler(dst []byte, m json.Marshaler) ([]byte, error) {
	if rv := reflect.ValueOf(m); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return append(dst, "null"...), nil
	}
	b, err := m.MarshalJSON()
	if err != nil {
		return dst, &Error{Reason: err.Error()}
	}
	return appendMarshaled(dst, b)
}

// appendMarshaled appends JSON produced elsewhere after checking and
// compacting it, so a bad MarshalJSON cannot corrupt a batch: invalid
// JSON and numbers that overflow a float64 are an error, and invalid
// UTF-8 (which can only be inside strings of valid JSON) is replaced with
// U+FFFD.
func appendMarshaled(dst []byte, b []byte) ([]byte, error) {
	if len(b) == 0 {
		return append(dst, "null"...), nil
	}
	if !json.Valid(b) {
		return dst, &Error{Reason: "MarshalJSON returned invalid JSON"}
	}
	var w bytes.Buffer
	if err := json.Compact(&w, b); err != nil {
		return dst, &Error{Reason: err.Error()}
	}
	out := w.Bytes()
	if lit := overflowingNumber(out); lit != "" {
		return dst, &Error{Reason: "number " + lit + " overflows a float64"}
	}
	if !utf8.Valid(out) {
		out = bytes.ToValidUTF8(out, []byte("\uFFFD"))
	}
	return append(dst, out...), nil
}

// overflows reports whether the number literal lit is too large for a
// float64, as the API (and encoding/json) would read it.
func overflows(lit string) bool {
	_, err := strconv.ParseFloat(lit, 64)
	var ne *strconv.NumError
	if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
		// ErrRange is also an underflow to 0, which is harmless.
		f, _ := strconv.ParseFloat(lit, 64)
		return math.IsInf(f, 0)
	}
	return false
}

// overflowingNumber returns the first number literal in the compact JSON
// b that overflows a float64, or "".
func overflowingNumber(b []byte) string {
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case c == '-' || c >= '0' && c <= '9':
			j := i
			for j < len(b) && (b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] >= '0' && b[j] <= '9') {
				j++
			}
			// Only a long literal or one with an exponent can overflow.
			if j-i > 300 || bytes.ContainsAny(b[i:j], "eE") {
				if lit := string(b[i:j]); overflows(lit) {
					return lit
				}
			}
			i = j - 1
		}
	}
	return ""
}

// appendReflect handles named map and slice types (such as a user's
// map[string]int or a named Properties type) and everything else through
// encoding/json.
func appendReflect(dst []byte, v any, depth int) ([]byte, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		if rv.IsNil() {
			return append(dst, "null"...), nil
		}
		if rv.Type().ConvertibleTo(mapType) && rv.Type().Key() == stringType {
			return appendMap(dst, rv.Convert(mapType).Interface().(map[string]any), depth)
		}
		keys := make([]string, 0, rv.Len())
		for _, k := range rv.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, k)
			dst = append(dst, ':')
			var err error
			kv := reflect.ValueOf(k).Convert(rv.Type().Key())
			if dst, err = appendValue(dst, rv.MapIndex(kv).Interface(), depth+1); err != nil {
				return dst, Prefix(err, k)
			}
		}
		return append(dst, '}'), nil
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice {
			if rv.IsNil() {
				return append(dst, "null"...), nil
			}
			if rv.Type().Elem().Kind() == reflect.Uint8 {
				break // []byte is base64, as encoding/json writes it
			}
		}
		dst = append(dst, '[')
		for i := 0; i < rv.Len(); i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendValue(dst, rv.Index(i).Interface(), depth+1); err != nil {
				return dst, Prefix(err, "["+strconv.Itoa(i)+"]")
			}
		}
		return append(dst, ']'), nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return append(dst, "null"...), nil
		}
		return appendValue(dst, rv.Elem().Interface(), depth+1)
	case reflect.Float32, reflect.Float64:
		return AppendFloat(dst, rv.Float(), rv.Type().Bits())
	case reflect.String:
		return AppendString(dst, rv.String()), nil
	case reflect.Bool:
		return strconv.AppendBool(dst, rv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(dst, rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(dst, rv.Uint(), 10), nil
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return dst, &Error{Reason: "unsupported value of type " + rv.Type().String()}
	}
	b, err := json.Marshal(v)
	if err != nil {
		var ue *json.UnsupportedValueError
		var ute *json.UnsupportedTypeError
		switch {
		case errors.As(err, &ue):
			return dst, &Error{Reason: "unsupported value: " + ue.Str}
		case errors.As(err, &ute):
			return dst, &Error{Reason: "unsupported value of type " + ute.Type.String()}
		}
		return dst, &Error{Reason: err.Error()}
	}
	return append(dst, b...), nil
}

var (
	mapType    = reflect.TypeFor[map[string]any]()
	stringType = reflect.TypeFor[string]()
)
