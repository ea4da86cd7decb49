package main

import (
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cdpkit/analytics-go/analyticstest"
)

// sentTo returns the URLs the fake API's requests were sent to.
func sentTo(fake *analyticstest.Transport) []string {
	var urls []string
	for _, r := range fake.Requests() {
		urls = append(urls, r.URL)
	}
	return urls
}

// runWith runs the command with transport under it, with testKey in
// CDP_API_KEY.
func runWith(t *testing.T, transport http.RoundTripper, stdin string, args ...string) result {
	t.Helper()
	var out, errb strings.Builder
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, transport: transport,
		getenv: func(k string) string {
			if k == "CDP_API_KEY" {
				return testKey
			}
			return os.Getenv(k)
		}}
	code := runContext(t.Context(), e, args)
	return result{code, out.String(), errb.String()}
}

// TestRegionChoosesTheHost: --region sends to the region's API, US by
// default; --endpoint overrides it.
func TestRegionChoosesTheHost(t *testing.T) {
	for _, tt := range []struct {
		flags []string
		want  string
	}{
		{nil, "https://cdp.customer.io/v1/batch"},
		{[]string{"--region", "us"}, "https://cdp.customer.io/v1/batch"},
		{[]string{"--region", "eu"}, "https://cdp-eu.customer.io/v1/batch"},
		{[]string{"--region", "eu", "--endpoint", "https://cdp.example.com"}, "https://cdp.example.com/v1/batch"},
	} {
		for _, cmd := range [][]string{
			{"track", "--user", "1", "--event", "E"},
			{"import", "--quiet", "-"},
		} {
			fake := analyticstest.NewTransport(t, analyticstest.WithAPIKey(testKey))
			args := append(append([]string(nil), cmd...), tt.flags...)
			r := runWith(t, fake, `{"type":"track","userId":"1","event":"E"}`, args...)
			if urls := sentTo(fake); r.code != exitOK || len(urls) != 1 || urls[0] != tt.want {
				t.Errorf("cdp %v: sent to %v, want %s\n%s", args, urls, tt.want, r)
			}
		}
	}
}

// TestImportIsPacedByDefault: without --rate an import starts at most
// DefaultRate requests per second, retries included.
func TestImportIsPacedByDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := analyticstest.NewTransport(t, analyticstest.WithAPIKey(testKey))
		// Every third request is answered 503 and retried at once.
		for range 20 {
			fake.Script(analyticstest.Response{}, analyticstest.Response{}, analyticstest.Response{Status: 503, RetryAfter: "0"})
		}
		var b strings.Builder
		for i := range 300 {
			b.WriteString(`{"type":"track","userId":"u","event":"E","properties":{"n":` + strconv.Itoa(i+1) + "}}\n")
		}
		r := runWith(t, fake, b.String(), "import", "--quiet", "--batch-size", "5", "-")
		if r.code != exitOK {
			t.Fatalf("%s", r)
		}
		reqs := fake.Requests()
		if len(reqs) < 60+20 {
			t.Fatalf("%d requests, want the 60 batches and their retries", len(reqs))
		}
		gap := time.Second / DefaultRate
		for i := 1; i < len(reqs); i++ {
			if d := reqs[i].Time.Sub(reqs[i-1].Time); d < gap {
				t.Fatalf("requests %d and %d started %v apart, less than the %v of %d per second", i-1, i, d, gap, DefaultRate)
			}
		}
		if DefaultRate*3 >= 3000 {
			t.Errorf("DefaultRate %d allows %d requests per 3 seconds; the API allows 3,000", DefaultRate, DefaultRate*3)
		}
	})
}

// TestProgressOnATerminalAndWithout: on a terminal an import draws a bar
// with the counts; without one it writes a plain line every few seconds.
func TestProgressOnATerminalAndWithout(t *testing.T) {
	for _, terminal := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			fake := analyticstest.NewTransport(t, analyticstest.WithAPIKey(testKey))
			fake.SetDefault(analyticstest.Response{Delay: 2 * time.Second})
			file := importFile(t, 100, nil)
			var out, errb strings.Builder
			e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, transport: fake, terminal: terminal,
				getenv: func(string) string { return testKey }}
			// Ten batches, one at a time, two seconds each: the file is all
			// read (into a buffer) long before the last batch is delivered.
			if code := runContext(t.Context(), e, []string{"import", "--workers", "1", "--batch-size", "10", file}); code != exitOK {
				t.Fatalf("exit %d:\n%s", code, errb.String())
			}
			plain := regexp.MustCompile(`(?m)^cdp: read \d+, delivered \d+, failed 0, invalid 0, \d+ lines/s, \d+%, ETA \d+s$`)
			lines := plain.FindAllString(errb.String(), -1)
			if !terminal {
				if len(lines) < 3 || strings.Contains(errb.String(), "\r") {
					t.Errorf("without a terminal: want a plain line every 5 s of the 20 s run, got:\n%s", errb.String())
				}
				return
			}
			// A frame drawn with the whole file read and the last batch
			// still in flight. Which count it shows depends on how the
			// client cut its batches (a flush tick may cut one short:
			// 47, 57, … instead of 50, 60, …), not on the bar.
			inFlight := false
			for _, m := range regexp.MustCompile(`read 100, delivered (\d+), failed 0, invalid 0`).FindAllStringSubmatch(errb.String(), -1) {
				if n, _ := strconv.Atoi(m[1]); n >= 90 && n < 100 {
					inFlight = true
				}
			}
			if len(lines) != 0 || !strings.Contains(errb.String(), "\r") || !inFlight {
				t.Errorf("on a terminal: want a bar redrawn in place with the counts, got:\n%q", errb.String())
			}
		})
	}
}

// TestRetryAfterIsHonoured: a 429 with Retry-After holds the batch back
// that long before it is sent again, under the rate limiter.
func TestRetryAfterIsHonoured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := analyticstest.NewTransport(t, analyticstest.WithAPIKey(testKey))
		fake.Script(analyticstest.Response{Status: 429, RetryAfter: "7"})
		r := runWith(t, fake, `{"type":"track","userId":"1","event":"E"}`+"\n", "import", "--quiet", "-")
		if r.code != exitOK {
			t.Fatalf("%s", r)
		}
		reqs := fake.Requests()
		if len(reqs) != 2 {
			t.Fatalf("%d requests, want the 429 and its retry", len(reqs))
		}
		if d := reqs[1].Time.Sub(reqs[0].Time); d < 7*time.Second {
			t.Errorf("retried after %v, want the 7s of Retry-After", d)
		}
	})
}

// TestSlowRateNeedsFewWorkers: a request waits for its turn under --rate
// inside its own timeout, so more workers than the rate can start in
// that time would time out without reaching the API; the command refuses
// them and says how many it can use. As many as it can use deliver.
func TestSlowRateNeedsFewWorkers(t *testing.T) {
	var b strings.Builder
	for i := range 40 {
		b.WriteString(`{"type":"track","userId":"u","event":"E","properties":{"n":` + strconv.Itoa(i+1) + "}}\n")
	}
	for _, tt := range []struct {
		rate, workers string
		code          int
		want          string
	}{
		{"1", "32", exitUsage, "use --workers 10 or fewer"},
		{"0.05", "1", exitUsage, "use a --rate of at least 0.10"},
		{"1", "10", exitOK, "delivered      40"},
		{"0.1", "1", exitOK, "delivered      40"},
	} {
		synctest.Test(t, func(t *testing.T) {
			fake := analyticstest.NewTransport(t, analyticstest.WithAPIKey(testKey))
			r := runWith(t, fake, b.String(), "import", "--quiet", "--rate", tt.rate, "--workers", tt.workers, "--batch-size", "1", "-")
			if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.want) {
				t.Errorf("--rate %s --workers %s: want exit %d and %q:\n%s", tt.rate, tt.workers, tt.code, tt.want, r)
			}
			if tt.code == exitUsage && len(fake.Requests()) != 0 {
				t.Errorf("--rate %s --workers %s: %d requests sent", tt.rate, tt.workers, len(fake.Requests()))
			}
		})
	}
}
