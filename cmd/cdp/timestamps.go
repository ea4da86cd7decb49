package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// timeParser reads the timestamps of an import's lines, as --timestamp-format
// says: "auto" (the default) takes an RFC 3339 time
// ("2026-01-02T15:04:05Z"), or a number of Unix seconds or milliseconds, as
// a JSON number or a string of digits (a CSV column); "unix" and "unixms"
// take only that unit; anything else is a Go time layout such as
// "2006-01-02 15:04:05" (UTC unless the layout has a zone).
type timeParser struct {
	format string // "auto", "unix", "unixms", or a layout
}

// unixMillisFrom is where auto tells seconds from milliseconds: 10^11
// seconds is the year 5138, and 10^11 milliseconds is March 1973.
const unixMillisFrom = 1e11

func newTimeParser(format string) (*timeParser, error) {
	switch format {
	case "", "auto":
		return &timeParser{format: "auto"}, nil
	case "unix", "unixms":
		return &timeParser{format: format}, nil
	}
	// A layout must hold at least a year, or every time would be in year 0.
	probe := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	if t, err := time.Parse(format, probe.Format(format)); err != nil || t.Year() != 2026 {
		return nil, fmt.Errorf("--timestamp-format: %q is not auto, unix, unixms or a Go time layout with a year such as \"2006-01-02 15:04:05\"", format)
	}
	return &timeParser{format: format}, nil
}

// value reads the JSON value raw of the kind the scanner found; null is no
// timestamp.
func (p *timeParser) value(raw []byte, kind byte) (time.Time, error) {
	switch kind {
	case 'n':
		return time.Time{}, nil
	case '0':
		return p.number(string(raw))
	case '"':
		if p.format == "auto" {
			if t, ok := parseUTCSeconds(raw[1 : len(raw)-1]); ok {
				return t, nil
			}
		}
		return p.text(unquote(raw[1:len(raw)-1], hasBackslash(raw)))
	}
	return time.Time{}, kindError("timestamp", "a string or a number", kind)
}

// text reads a timestamp given as text (a JSON string or a CSV field).
func (p *timeParser) text(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	switch p.format {
	case "auto":
		if t, ok := parseUTCSeconds([]byte(s)); ok {
			return t, nil
		}
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, nil
		}
		if isNumber(s) {
			return p.number(s)
		}
		return time.Time{}, fmt.Errorf("timestamp: %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z, nor Unix seconds or milliseconds (see --timestamp-format)", s)
	case "unix", "unixms":
		return p.number(s)
	}
	t, err := time.Parse(p.format, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp: %q does not match --timestamp-format %q", s, p.format)
	}
	return t, nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// number reads Unix seconds or milliseconds.
func (p *timeParser) number(s string) (time.Time, error) {
	if p.format != "auto" && p.format != "unix" && p.format != "unixms" {
		return time.Time{}, fmt.Errorf("timestamp: %s is a number, not a time of --timestamp-format %q", s, p.format)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return time.Time{}, fmt.Errorf("timestamp: %q is not a number of Unix seconds or milliseconds", s)
	}
	millis := p.format == "unixms" || p.format == "auto" && math.Abs(v) >= unixMillisFrom
	if millis {
		v /= 1000
	}
	if math.Abs(v) > 253402300799 { // 9999-12-31T23:59:59Z
		return time.Time{}, fmt.Errorf("timestamp: %s is past the year 9999", s)
	}
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
}

// parseUTCSeconds parses the commonest RFC 3339 time of a back-fill,
// "2026-01-02T15:04:05Z", without time.Parse; ok is false for any other
// form, which time.Parse then reads.
func parseUTCSeconds(s []byte) (time.Time, bool) {
	if len(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z' {
		return time.Time{}, false
	}
	num := func(i, n int) int {
		v := 0
		for _, c := range s[i : i+n] {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	year, month, day := num(0, 4), num(5, 2), num(8, 2)
	hour, minute, sec := num(11, 2), num(14, 2), num(17, 2)
	if year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	if t.Day() != day { // February 30th, say: time.Parse says why
		return time.Time{}, false
	}
	return t, true
}
