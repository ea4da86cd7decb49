package transport_test

import (
	"math/bits"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cdpkit/analytics-go/internal/transport"
)

// FuzzParseRetryAfter: never a panic and never a negative wait; a value
// is read iff it is a decimal count of seconds or an HTTP date (after
// trimming spaces); seconds are exact or capped, never wrapped; a date
// gives the time until it, or 0 once past.
func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 10, 21, 7, 28, 0, 0, time.UTC)
	for _, s := range []string{
		"", "0", "1", " 2 ", "120", "-1", "+1", "1.5", "1e3", "9223372036", "9223372037", "99999999999999999999",
		"Wed, 21 Oct 2026 07:28:05 GMT", "Wednesday, 21-Oct-26 07:29:00 GMT", "Wed Oct 21 07:28:30 2026",
		"Thu, 01 Jan 1970 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "\t7\n", "٣", "1 2",
	} {
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, v string, nowOffset int64) {
		at := now.Add(time.Duration(nowOffset))
		d, ok := transport.ParseRetryAfter(v, at)
		if d < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v: negative", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, false: a wait with no value", v, d)
		}
		trimmed := strings.TrimSpace(v)
		if d2, ok2 := transport.ParseRetryAfter(trimmed, at); d2 != d || ok2 != ok {
			t.Fatalf("ParseRetryAfter(%q) = %v, %v but (%q) = %v, %v: spaces matter", v, d, ok, trimmed, d2, ok2)
		}
		if allDigits(trimmed) {
			if !ok {
				t.Fatalf("ParseRetryAfter(%q): seconds not read", v)
			}
			n, err := strconv.ParseInt(trimmed, 10, 64)
			switch {
			case err != nil || n > int64((1<<63-1)/time.Second):
				if d != time.Duration(1<<63-1) {
					t.Fatalf("ParseRetryAfter(%q) = %v, want the largest Duration", v, d)
				}
			case d != time.Duration(n)*time.Second:
				t.Fatalf("ParseRetryAfter(%q) = %v, want %ds", v, d, n)
			}
			return
		}
		date, err := http.ParseTime(trimmed)
		if err != nil {
			if ok {
				t.Fatalf("ParseRetryAfter(%q) = %v, true; it is neither seconds nor an HTTP date", v, d)
			}
			return
		}
		if !ok || d != max(date.Sub(at), 0) {
			t.Fatalf("ParseRetryAfter(%q) = %v, %v; want %v until the date", v, d, ok, max(date.Sub(at), 0))
		}
	})
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FuzzBackoff: whatever the policy, attempt, status and Retry-After, the
// wait is within [0, max(WaitMax, MaxRetryAfter)]; without a usable
// Retry-After it is within [w/2, w] for w = min(WaitMin·2^attempt,
// WaitMax); with one it is the header's wait capped at MaxRetryAfter.
func FuzzBackoff(f *testing.F) {
	f.Add(int64(time.Millisecond), int64(time.Second), int64(time.Minute), 3, 429, "2")
	f.Add(int64(250*time.Millisecond), int64(15*time.Second), int64(time.Minute), 0, 503, "")
	f.Add(int64(1<<33+1), int64(time.Hour), int64(time.Minute), 31, 500, "")
	f.Add(int64(1), int64(1), int64(1), 99, 400, "Wed, 21 Oct 2026 07:28:05 GMT")
	f.Fuzz(func(t *testing.T, waitMin, waitMax, maxRA int64, attempt, status int, header string) {
		// The policies New accepts: 0 < min <= max, MaxRetryAfter > 0,
		// attempts below 100.
		if waitMin <= 0 || waitMax < waitMin || maxRA <= 0 || attempt < 0 || attempt >= 100 {
			return
		}
		p := transport.Policy{MaxAttempts: 100, WaitMin: time.Duration(waitMin), WaitMax: time.Duration(waitMax), MaxRetryAfter: time.Duration(maxRA)}
		var resp *http.Response
		if status != 0 {
			resp = &http.Response{StatusCode: status, Header: http.Header{}}
			if header != "" {
				resp.Header.Set("Retry-After", header)
			}
		}
		got := p.Backoff(0, 0, attempt, resp)
		if got < 0 || got > max(p.WaitMax, p.MaxRetryAfter) {
			t.Fatalf("Backoff = %v, outside [0, %v]", got, max(p.WaitMax, p.MaxRetryAfter))
		}
		if resp != nil && transport.Retryable(status) {
			if ra, ok := transport.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				// The header's wait was measured a moment before ours
				// (an HTTP date moves with the clock).
				want := min(ra, p.MaxRetryAfter)
				if got > want || got < want-time.Second {
					t.Fatalf("Retry-After %q: wait %v, want %v", header, got, want)
				}
				return
			}
		}
		// w = min(WaitMin·2^attempt, WaitMax), computed without overflow.
		w := p.WaitMax
		if bits.Len64(uint64(p.WaitMin))+attempt < 63 {
			w = min(p.WaitMin<<attempt, p.WaitMax)
		}
		inRange := got >= w/2 && got <= w
		if !inRange && w < p.WaitMax && p.WaitMin == p.WaitMax>>attempt {
			// Within 2^attempt ns of the cap the policy may round up to it.
			inRange = got >= p.WaitMax/2 && got <= p.WaitMax
		}
		if !inRange {
			t.Fatalf("attempt %d, min %v, max %v: wait %v outside [%v, %v]", attempt, p.WaitMin, p.WaitMax, got, w/2, w)
		}
	})
}
