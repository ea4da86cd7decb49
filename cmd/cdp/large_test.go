package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sink is a minimal Data Pipelines API for large imports: it marks which
// line numbers (properties.n) arrived and keeps nothing else, unlike
// analyticstest's Recorder, which keeps every message.
type sink struct {
	mu   sync.Mutex
	seen []uint8 // times each line arrived
	msgs atomic.Int64
}

func newSink(t testing.TB, lines int) (*sink, string) {
	s := &sink{seen: make([]uint8, lines+1)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Batch []struct {
				Properties struct {
					N int `json:"n"`
				} `json:"properties"`
			} `json:"batch"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		for _, m := range body.Batch {
			if m.Properties.N > 0 && m.Properties.N < len(s.seen) {
				s.seen[m.Properties.N]++
			}
		}
		s.mu.Unlock()
		s.msgs.Add(int64(len(body.Batch)))
		w.Write([]byte("{}"))
	}))
	t.Cleanup(srv.Close)
	return s, srv.URL + "/v1"
}

// writeLargeFile writes n track lines, properties.n = the line number.
func writeLargeFile(t testing.TB, n int) string {
	path := filepath.Join(t.TempDir(), "large.ndjson")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(w, `{"type":"track","userId":"user-%d","event":"Order Completed","properties":{"n":%d,"order_id":"o-%d","total":%d.5,"currency":"USD"},"timestamp":"2026-01-02T03:04:05Z"}`+"\n", i%5000, i, i, i%300)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// longTests reports the long mode (CDP_LONG_TESTS=1, which .ci/run sets
// for one run of the long tests): full-size runs that take tens of
// seconds, which the everyday go test leaves at a size that checks the
// same things in a second or two.
func longTests() bool { return os.Getenv("CDP_LONG_TESTS") == "1" }

// TestImportMillionLines imports 1,000,000 lines in the long mode (100,000
// otherwise, 20,000 with -short or the race detector) and checks that each
// arrived exactly once. The peak memory is measured by BenchmarkImport and
// by benchmarks/cmd/importbench on the built command.
func TestImportMillionLines(t *testing.T) {
	n := 100_000
	switch {
	case longTests():
		n = 1_000_000
	case testing.Short() || raceEnabled:
		n = 20_000
	}
	s, url := newSink(t, n)
	file := writeLargeFile(t, n)
	r := cdp(t, "", "import", "--quiet", "--rate", "0", "--endpoint", url, file)
	if r.code != exitOK {
		t.Fatalf("%s", r)
	}
	for i := 1; i <= n; i++ {
		if s.seen[i] != 1 {
			t.Fatalf("line %d arrived %d times", i, s.seen[i])
		}
	}
	if got := s.msgs.Load(); got != int64(n) {
		t.Errorf("the sink got %d messages, want %d", got, n)
	}
}

// BenchmarkImport imports 200,000 lines per iteration and reports the
// peak heap in use, sampled while the import runs: it stays flat as the
// file grows, because the command holds one round of messages at a time.
func BenchmarkImport(b *testing.B) {
	const n = 200_000
	b.Setenv("CDP_API_KEY", testKey)
	_, url := newSink(b, n)
	file := writeLargeFile(b, n)
	b.ResetTimer()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	}()
	for b.Loop() {
		var out, errb nopWriter
		if code := run([]string{"import", "--quiet", "--rate", "0", "--endpoint", url, file}, nil, &out, &errb); code != exitOK {
			b.Fatalf("exit %d", code)
		}
	}
	close(stop)
	<-done
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "lines/s")
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
