package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON scanner of the import's hot path. It reads a line once: it
// checks the syntax (as encoding/json's scanner does) while it finds where
// each value starts and ends, and hands out strings, numbers and nested
// values without reflection. Nested objects and arrays inside properties,
// traits, context and integrations stay as the bytes of the line
// (json.RawMessage), which the library checks and copies into the message
// it encodes.

// maxJSONDepth bounds the nesting of a line, as encoding/json's 10,000
// does, so that a line of brackets cannot exhaust the stack.
const maxJSONDepth = 10_000

// A syntaxError is an error in the JSON of a line, at byte offset off.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string {
	if e.msg == "" {
		return "invalid JSON: unexpected end of line"
	}
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.off, e.msg)
}

// scanner validates and walks the JSON text data.
type scanner struct {
	data []byte
	pos  int
	// lazy, when set, says which members of the top-level object hold an
	// object that another pass checks: object passes over them with
	// skipNested.
	lazy func(key []byte) bool
}

func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// fail returns the syntax error at the current position: an unexpected
// end, or the character found there in context.
func (s *scanner) fail(context string) error {
	if s.pos >= len(s.data) {
		return &syntaxError{}
	}
	return &syntaxError{off: s.pos + 1, msg: fmt.Sprintf("invalid character %s %s", quoteChar(s.data[s.pos]), context)}
}

func quoteChar(c byte) string {
	switch {
	case c == '\'':
		return `'\''`
	case c == '"':
		return `'"'`
	case c < 0x20 || c >= 0x7f:
		return strconv.Quote(string(rune(c)))
	}
	return "'" + string(c) + "'"
}

// value checks the value at s.pos and moves past it. It returns the kind
// of the value: '"' string, '{' object, '[' array, '0' number, 't' true,
// 'f' false, 'n' null.
func (s *scanner) value(depth int) (byte, error) {
	s.ws()
	if s.pos >= len(s.data) {
		return 0, &syntaxError{}
	}
	switch c := s.data[s.pos]; {
	case c == '"':
		_, err := s.str()
		return '"', err
	case c == '{':
		return '{', s.object(depth+1, nil)
	case c == '[':
		return '[', s.array(depth + 1)
	case c == '-' || c >= '0' && c <= '9':
		return '0', s.number()
	case c == 't':
		return 't', s.literal("true")
	case c == 'f':
		return 'f', s.literal("false")
	case c == 'n':
		return 'n', s.literal("null")
	}
	return 0, s.fail("looking for beginning of value")
}

func (s *scanner) literal(word string) error {
	for i := 0; i < len(word); i++ {
		if s.pos >= len(s.data) {
			return &syntaxError{}
		}
		if s.data[s.pos] != word[i] {
			return s.fail("in literal " + word + " (expecting '" + word[i:i+1] + "')")
		}
		s.pos++
	}
	return nil
}

func (s *scanner) number() error {
	d := s.data
	if d[s.pos] == '-' {
		s.pos++
	}
	switch {
	case s.pos >= len(d):
		return &syntaxError{}
	case d[s.pos] == '0':
		s.pos++
	case d[s.pos] >= '1' && d[s.pos] <= '9':
		for s.pos < len(d) && d[s.pos] >= '0' && d[s.pos] <= '9' {
			s.pos++
		}
	default:
		return s.fail("in numeric literal")
	}
	if s.pos < len(d) && d[s.pos] == '.' {
		s.pos++
		if s.pos >= len(d) || d[s.pos] < '0' || d[s.pos] > '9' {
			return s.fail("after decimal point in numeric literal")
		}
		for s.pos < len(d) && d[s.pos] >= '0' && d[s.pos] <= '9' {
			s.pos++
		}
	}
	if s.pos < len(d) && (d[s.pos] == 'e' || d[s.pos] == 'E') {
		s.pos++
		if s.pos < len(d) && (d[s.pos] == '+' || d[s.pos] == '-') {
			s.pos++
		}
		if s.pos >= len(d) || d[s.pos] < '0' || d[s.pos] > '9' {
			return s.fail("in exponent of numeric literal")
		}
		for s.pos < len(d) && d[s.pos] >= '0' && d[s.pos] <= '9' {
			s.pos++
		}
	}
	return nil
}

// plainByte[c] is whether c stands for itself inside a JSON string: not a
// quote, a backslash or a control character.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str checks the string at s.pos (its opening quote) and moves past it.
// escaped reports a backslash inside, which unquote must undo.
func (s *scanner) str() (escaped bool, err error) {
	d := s.data
	s.pos++ // the opening quote
	for s.pos < len(d) {
		for s.pos < len(d) && plainByte[d[s.pos]] {
			s.pos++
		}
		if s.pos >= len(d) {
			break
		}
		c := d[s.pos]
		switch {
		case c == '"':
			s.pos++
			return escaped, nil
		case c == '\\':
			escaped = true
			s.pos++
			if s.pos >= len(d) {
				return escaped, &syntaxError{}
			}
			switch d[s.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos++
			case 'u':
				s.pos++
				for range 4 {
					if s.pos >= len(d) {
						return escaped, &syntaxError{}
					}
					if !isHex(d[s.pos]) {
						return escaped, s.fail("in \\u hexadecimal character escape")
					}
					s.pos++
				}
			default:
				return escaped, s.fail("in string escape code")
			}
		case c < 0x20:
			return escaped, s.fail("in string literal")
		default:
			s.pos++
		}
	}
	return escaped, &syntaxError{}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// skipNested moves past the object or array at s.pos without checking
// it, finding its end by counting brackets outside strings, and returns
// whether it found one. The value must be checked by another pass (see
// lineDecoder.decode).
func (s *scanner) skipNested() bool {
	d := s.data
	depth := 0
	for s.pos < len(d) {
		switch d[s.pos] {
		case '"':
			for s.pos++; s.pos < len(d) && d[s.pos] != '"'; s.pos++ {
				if d[s.pos] == '\\' {
					s.pos++
				}
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				s.pos++
				return true
			}
		}
		s.pos++
	}
	return false
}

// member is one key and value of an object: the key's text without its
// quotes, and the value's bytes.
type member struct {
	key     []byte
	escaped bool // the key holds escapes
	kind    byte // as value returns
	start   int  // the value's first byte in the scanner's data
	end     int  // one past its last
}

// object checks the object at s.pos and moves past it, calling fn, if not
// nil, for each member.
func (s *scanner) object(depth int, fn func(m member) error) error {
	if empty, err := s.open(depth, '}'); empty || err != nil {
		return err
	}
	for {
		s.ws()
		if s.pos >= len(s.data) {
			return &syntaxError{}
		}
		if s.data[s.pos] != '"' {
			return s.fail("looking for beginning of object key string")
		}
		kstart := s.pos + 1
		escaped, err := s.str()
		if err != nil {
			return err
		}
		key := s.data[kstart : s.pos-1]
		s.ws()
		if s.pos >= len(s.data) {
			return &syntaxError{}
		}
		if s.data[s.pos] != ':' {
			return s.fail("after object key")
		}
		s.pos++
		s.ws()
		start := s.pos
		var kind byte
		if depth == 1 && s.lazy != nil && s.pos < len(s.data) && s.data[s.pos] == '{' && s.lazy(key) {
			kind = '{'
			if !s.skipNested() {
				return &syntaxError{}
			}
		} else if kind, err = s.value(depth); err != nil {
			return err
		}
		if fn != nil {
			if err := fn(member{key: key, escaped: escaped, kind: kind, start: start, end: s.pos}); err != nil {
				return err
			}
		}
		if done, err := s.after('}', "after object key:value pair"); done || err != nil {
			return err
		}
	}
}

// open moves past the opening bracket of an object or array at depth,
// and past its closing one, closer, if it is empty.
func (s *scanner) open(depth int, closer byte) (empty bool, err error) {
	if depth > maxJSONDepth {
		return false, &syntaxError{off: s.pos + 1, msg: "exceeded max depth"}
	}
	s.pos++
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == closer {
		s.pos++
		return true, nil
	}
	return false, nil
}

// after moves past what follows a member or an element: a comma, or the
// closer that ends the object or array (done).
func (s *scanner) after(closer byte, context string) (done bool, err error) {
	s.ws()
	if s.pos >= len(s.data) {
		return false, &syntaxError{}
	}
	switch s.data[s.pos] {
	case ',':
		s.pos++
		return false, nil
	case closer:
		s.pos++
		return true, nil
	}
	return false, s.fail(context)
}

func (s *scanner) array(depth int) error {
	if empty, err := s.open(depth, ']'); empty || err != nil {
		return err
	}
	for {
		if _, err := s.value(depth); err != nil {
			return err
		}
		if done, err := s.after(']', "after array element"); done || err != nil {
			return err
		}
	}
}

// unquote returns the string whose JSON text, quotes excluded, is raw.
// Invalid UTF-8 and lone surrogates become U+FFFD, as encoding/json makes
// them.
func unquote(raw []byte, escaped bool) string {
	if !escaped && utf8.Valid(raw) {
		return string(raw)
	}
	b := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(raw[i:])
			b = utf8.AppendRune(b, r) // an invalid byte is U+FFFD
			i += size
			continue
		}
		if c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(raw[i+1 : i+5])
			i += 4
			if utf16.IsSurrogate(r) {
				// A pair is two escapes: this one, and \uXXXX in
				// raw[i+1:i+7].
				if i+7 <= len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					if dec := utf16.DecodeRune(r, hex4(raw[i+3:i+7])); dec != utf8.RuneError {
						b = utf8.AppendRune(b, dec)
						i += 7
						continue
					}
				}
				r = utf8.RuneError
			}
			b = utf8.AppendRune(b, r)
		default: // '"', '\\', '/'
			b = append(b, raw[i])
		}
		i++
	}
	return string(b)
}

func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// jsonValue returns the value of the JSON text raw, of the kind value
// found, for a map the library encodes: a string, an int64 (a whole
// number written plainly that fits), a json.Number (other numbers, so
// that their digits are kept), a bool, nil, or for an object or an array
// the text itself, as a json.RawMessage that shares raw's memory.
func jsonValue(raw []byte, kind byte) any {
	switch kind {
	case '"':
		inner := raw[1 : len(raw)-1]
		return unquote(inner, hasBackslash(inner))
	case '0':
		if n, ok := plainInt(raw); ok {
			return n
		}
		if f, ok := plainDecimal(raw); ok {
			return f
		}
		return json.Number(raw)
	case 't':
		return true
	case 'f':
		return false
	case 'n':
		return nil
	}
	return json.RawMessage(raw)
}

// plainInt parses raw, a valid JSON number, when it is a whole number of
// at most 18 digits without a fraction or an exponent (and not -0), which
// an int64 writes back the same.
func plainInt(raw []byte) (int64, bool) {
	neg := raw[0] == '-'
	digits := raw
	if neg {
		digits = raw[1:]
	}
	if len(digits) > 18 || (neg && len(digits) == 1 && digits[0] == '0') {
		return 0, false
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// plainDecimal parses raw, a valid JSON number, when it is a decimal that
// a float64 writes back the same: no exponent, at most 15 significant
// digits (any two such decimals are different float64s, so the shortest
// form of the float64 is the decimal itself), no trailing zero after the
// point (1.50 would be written 1.5), and not below 1e-6, which the
// library writes with an exponent.
func plainDecimal(raw []byte) (float64, bool) {
	i := 0
	if raw[0] == '-' {
		i++
	}
	dot := bytes.IndexByte(raw, '.')
	if dot < 0 || bytes.ContainsAny(raw, "eE") || raw[len(raw)-1] == '0' {
		return 0, false
	}
	digits, leading := 0, true
	zerosAfterPoint := 0
	for j := i; j < len(raw); j++ {
		c := raw[j]
		if c == '.' {
			continue
		}
		if leading && c == '0' {
			if j > dot {
				zerosAfterPoint++
			}
			continue
		}
		leading = false
		digits++
	}
	if digits > 15 || raw[i] == '0' && zerosAfterPoint >= 6 {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	return f, err == nil
}

// errNotObject is the error for a line that is valid JSON but not an
// object.
var errNotObject = errors.New("invalid JSON: not an object")
