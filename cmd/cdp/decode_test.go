package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
)

func TestDecodeMessageIntoLibraryTypes(t *testing.T) {
	m, err := decodeMessage([]byte(`{"type":"track","userId":"42","anonymousId":"a","event":"Order Completed","messageId":"m1",
		"timestamp":"2026-01-02T03:04:05Z","properties":{"id":12345678901234567890,"x":[1,2]},"integrations":{"All":false},
		"context":{"ip":"1.2.3.4","library":{"name":"other"}},"sentAt":"2026-01-02T03:04:06Z"}`), autoTimes)
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := m.(analytics.Track)
	if !ok {
		t.Fatalf("decoded as %T", m)
	}
	if tr.UserID != "42" || tr.AnonymousID != "a" || tr.Event != "Order Completed" || tr.MessageID != "m1" || tr.Timestamp.Year() != 2026 {
		t.Errorf("decoded %+v", tr)
	}
	if tr.Properties["id"] != json.Number("12345678901234567890") {
		t.Errorf("a large number lost its digits: %v", tr.Properties["id"])
	}
	if tr.Context == nil || tr.Context.Extra["ip"] != "1.2.3.4" || tr.Integrations["All"] != false {
		t.Errorf("context %+v, integrations %v", tr.Context, tr.Integrations)
	}

	for line, want := range map[string]any{
		`{"type":"identify","userId":"1","traits":{"email":"a@b.c"}}`:                          analytics.Identify{},
		`{"type":"page","userId":"1","name":"Home"}`:                                           analytics.Page{},
		`{"type":"screen","userId":"1","name":"Feed"}`:                                         analytics.Screen{},
		`{"type":"group","userId":"1","groupId":"g","objectTypeId":"2","traits":{"name":"A"}}`: analytics.Group{},
		`{"type":"alias","userId":"1","previousId":"0"}`:                                       analytics.Alias{},
	} {
		m, err := decodeMessage([]byte(line), autoTimes)
		if err != nil {
			t.Errorf("%s: %v", line, err)
			continue
		}
		if got, want := fmt.Sprintf("%T", m), fmt.Sprintf("%T", want); got != want {
			t.Errorf("%s decoded as %s, want %s", line, got, want)
		}
	}
}

func TestDecodeMessageErrorsNameTheKey(t *testing.T) {
	for line, want := range map[string]string{
		`{"type":"track","userId":"1","event":"E","colour":"red"}`:          `unknown field "colour"`,
		`{"type":"track","userId":7,"event":"E"}`:                           `userId: want a string, not a JSON number`,
		`{"type":"identify","userId":"1","traits":[1]}`:                     `traits: want an object, not a JSON array`,
		`{"type":"track","userId":"1","event":"E","timestamp":"yesterday"}`: `timestamp: "yesterday" is not an RFC 3339 time`,
		`{"type":"track","userId":"1"`:                                      `invalid JSON`,
		`[1,2]`:                                                             `invalid JSON: not an object`,
		`{"type":"track","userId":"1","event":"E"} {}`:                      `invalid JSON at byte 43`,
		`{"userId":"1"}`:                                                    `type: missing`,
		`{"type":"Track","userId":"1"}`:                                     `type: "Track" is not one of`,
		`{"type":7}`:                                                        `type: want a string`,
	} {
		_, err := decodeMessage([]byte(line), autoTimes)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to contain %q", line, err, want)
		}
	}
}

// autoTimes reads timestamps as --timestamp-format auto does.
var autoTimes, _ = newTimeParser("auto")

func TestLineSplitterBoundsLongLines(t *testing.T) {
	long := strings.Repeat("x", maxLineBytes+10)
	sp := newLineSplitter(strings.NewReader("a\r\n" + long + "\nb"))
	ch := &chunk{}
	for {
		if err := sp.fill(ch); err != nil {
			break
		}
	}
	var got []string
	var tooLong []bool
	for i, r := range ch.recs {
		got = append(got, string(ch.text(i)))
		tooLong = append(tooLong, r.tooLong)
	}
	if len(got) != 3 || got[0] != "a" || got[1] != "" || !tooLong[1] || got[2] != "b" || tooLong[2] || sp.line != 3 {
		t.Errorf("lines %q, too long %v, count %d", got, tooLong, sp.line)
	}

	// A line of 16 MiB is passed over without being held.
	sp = newLineSplitter(io.MultiReader(strings.NewReader("a\n"), strings.NewReader(strings.Repeat("x", 16<<20)), strings.NewReader("\nb\n")))
	ch = &chunk{}
	for {
		if err := sp.fill(ch); err != nil {
			break
		}
	}
	if sp.line != 3 || cap(ch.buf) > 2*maxLineBytes {
		t.Errorf("read %d lines holding a buffer of %d bytes; want 3 and at most %d", sp.line, cap(ch.buf), 2*maxLineBytes)
	}
}

// FuzzDecodeLine checks the decoder's scanner against encoding/json: a
// line it takes is valid JSON, and every value it hands the library of a
// valid line is what encoding/json reads there.
func FuzzDecodeLine(f *testing.F) {
	for _, seed := range []string{
		`{"type":"track","userId":"1","event":"E","properties":{"a":[1,{"b":"\u00e9\ud83d\ude00"}],"n":-0.5e3}}`,
		`{"type":"identify","userId":"1","traits":{"email":"a@b.c"},"context":{"ip":"1"},"integrations":{"All":false}}`,
		`{"type":"track","userId":"1","event":"E","properties":{"a":1 "b":2}}`,
		`{"type":"track","userId":"1","event":"E","properties":{"a":[1}]}}`,
		`{"type":"track","userId":"1","event":"E","properties":{"a":"}"},"properties":{"b":1}}`,
		`{"type":"page","userId":"1","properties":{"s":"\"}"}}`,
	} {
		f.Add([]byte(seed))
	}
	times, _ := newTimeParser("auto")
	f.Fuzz(func(t *testing.T, line []byte) {
		d := newLineDecoder(times, nil)
		var fields msgFields
		if err := d.decode(line, &fields); err != nil {
			return
		}
		if !json.Valid(line) {
			t.Fatalf("decoded %q, which is not valid JSON", line)
		}
		var want struct {
			UserID     string         `json:"userId"`
			Properties map[string]any `json:"properties"`
		}
		if err := json.Unmarshal(line, &want); err != nil {
			return // a key of another case, say
		}
		for k, v := range fields.properties {
			got := v
			if raw, ok := v.(json.RawMessage); ok {
				if err := json.Unmarshal(raw, &got); err != nil {
					t.Fatalf("%q: properties.%s is %q, not JSON", line, k, raw)
				}
			}
			if fmt.Sprint(normalizeNumber(got)) != fmt.Sprint(normalizeNumber(want.Properties[k])) {
				t.Errorf("%q: properties.%s is %v, encoding/json reads %v", line, k, got, want.Properties[k])
			}
		}
	})
}

// normalizeNumber makes the numbers of v float64, as encoding/json reads
// them.
func normalizeNumber(v any) any {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case json.Number:
		f, _ := x.Float64()
		return f
	}
	return v
}

// decodeMessage decodes one message in the API's JSON shape into the
// library's message type for its "type" (for the tests).
func decodeMessage(data []byte, times *timeParser) (analytics.Message, error) {
	d := newLineDecoder(times, nil)
	var f msgFields
	if err := d.decode(data, &f); err != nil {
		return nil, err
	}
	return f.message(), nil
}

// TestParseUTCSecondsAgreesWithTimeParse: the fast path of the commonest
// timestamp reads what time.Parse reads, and leaves the rest to it.
func TestParseUTCSecondsAgreesWithTimeParse(t *testing.T) {
	for _, s := range []string{"2026-01-02T15:04:05Z", "1999-12-31T23:59:59Z", "2024-02-29T00:00:00Z",
		"2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-02T24:00:00Z", "2026-01-02T15:04:60Z",
		"2026-01-02T15:04:05+01:00", "2026-01-02 15:04:05Z", "20x6-01-02T15:04:05Z"} {
		got, ok := parseUTCSeconds([]byte(s))
		want, err := time.Parse(time.RFC3339Nano, s)
		if ok && (err != nil || !got.Equal(want)) {
			t.Errorf("%s: fast path %v, time.Parse %v (%v)", s, got, want, err)
		}
		if !ok && err == nil && len(s) == 20 && s[19] == 'Z' {
			t.Errorf("%s: the fast path left a time it could read", s)
		}
	}
}

// TestPlainDecimalWritesBackTheSame: a decimal the decoder hands the
// library as a float64 is written back (as the library writes floats,
// strconv's shortest 'f' form) with the same text; the others stay
// json.Number.
func TestPlainDecimalWritesBackTheSame(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	taken := 0
	for range 200_000 {
		pow := func(n int) int64 {
			p := int64(1)
			for range n {
				p *= 10
			}
			return p
		}
		intPart := strconv.FormatInt(rng.Int64N(pow(rng.IntN(10))), 10)
		frac := strconv.FormatInt(rng.Int64N(pow(1+rng.IntN(12))), 10)
		frac = strings.Repeat("0", rng.IntN(8)) + frac
		lit := intPart + "." + frac
		if rng.IntN(2) == 0 {
			lit = "-" + lit
		}
		f, ok := plainDecimal([]byte(lit))
		if !ok {
			continue
		}
		taken++
		if got := strconv.FormatFloat(f, 'f', -1, 64); got != lit {
			t.Fatalf("%s is written back as %s", lit, got)
		}
	}
	if taken < 10_000 {
		t.Errorf("only %d of 200,000 decimals taken as float64s", taken)
	}
	for _, lit := range []string{"1.50", "1e3", "0.0000001", "12345678901234567.5", "0.1234567890123456"} {
		if _, ok := plainDecimal([]byte(lit)); ok {
			t.Errorf("%s was taken as a float64", lit)
		}
	}
}
