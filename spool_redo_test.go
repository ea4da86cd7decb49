package analytics_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/cdpkit/analytics-go/internal/spool/faultfs"
)

// unavailableTransport answers 503 to its first n requests, recording
// when each came (synctest's clock in a bubble), and holds every later
// one until release is closed, so that a client that sends without
// waiting cannot spin a test forever.
type unavailableTransport struct {
	n       int
	release chan struct{}
	mu      sync.Mutex
	at      []time.Time
}

func (u *unavailableTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	u.mu.Lock()
	u.at = append(u.at, time.Now())
	held := len(u.at) > u.n
	u.mu.Unlock()
	if held {
		<-u.release
	}
	return &http.Response{StatusCode: 503, Status: "503 Service Unavailable", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: io.NopCloser(strings.NewReader("{}")), ContentLength: 2, Request: r}, nil
}

func (u *unavailableTransport) times() []time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]time.Time(nil), u.at...)
}

// TestSpoolRedoWaits: a batch given up after its retries is sent again
// only after the retry policy's longest wait (RetryPolicy.WaitMax, less a
// random half at most), as a further retry would be, not at once: with MaxAttempts 1 an outage
// is not hammered. Before the fix the spool read the batch back and sent
// it again as soon as it was given up: 20 requests in no time (50 a
// second of 1,000-message batches against a real 503).
func TestSpoolRedoWaits(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt := &unavailableTransport{n: 20, release: make(chan struct{})}
		defer close(rt.release)
		c, err := analytics.New(spoolKey, analytics.WithHTTPClient(&http.Client{Transport: rt}),
			analytics.WithLogger(quietLogger()), analytics.WithSpool("/spool"), analytics.WithSpoolFS(faultfs.New(1).Mount()),
			analytics.WithRetry(analytics.RetryPolicy{MaxAttempts: 1, WaitMin: 100 * time.Millisecond, WaitMax: time.Second}),
			analytics.WithBatchSize(10), analytics.WithFlushInterval(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_ = c.Shutdown(ctx)
		}()
		for i := range 10 { // one full batch
			if err := c.Enqueue(spoolTrack(fmt.Sprint("r-", i), i)); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		at := rt.times()
		if len(at) < 2 {
			t.Fatalf("%d requests in a minute of an outage, want the batch sent again", len(at))
		}
		for i := 1; i < len(at); i++ {
			if gap := at[i].Sub(at[i-1]); gap < 500*time.Millisecond {
				t.Fatalf("request %d came %v after the one before: a batch given up was sent again without waiting about RetryPolicy.WaitMax (1s, less a random half at most)", i+1, gap)
			}
		}
		if st := c.Stats(); st.SpoolRequeued < 10 || st.Failed != 0 {
			t.Errorf("SpoolRequeued %d Failed %d, want the batch requeued, not failed", st.SpoolRequeued, st.Failed)
		}
	})
}

// TestSpoolRedoGoesOnceADeliveryLands: a batch given up after its retries
// waits before it is sent again only while nothing is delivered: once a
// batch is delivered (the API takes requests again) it goes at once.
func TestSpoolRedoGoesOnceADeliveryLands(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr := analyticstest.NewTransport(t, analyticstest.WithAPIKey(spoolKey))
		refuse, hold := make(chan struct{}), make(chan struct{})
		tr.Script(analyticstest.Response{Status: 503, Hold: refuse}, analyticstest.Response{Hold: hold})
		c := newParkClient(t, tr, analytics.WithRetry(analytics.RetryPolicy{MaxAttempts: 1, WaitMin: 100 * time.Millisecond, WaitMax: time.Minute}),
			analytics.WithBatchSize(10), analytics.WithMaxInFlight(2))
		for i := range 20 { // two full batches
			if err := c.Enqueue(spoolTrack(fmt.Sprint("g-", i), i)); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait() // both in flight
		close(refuse)
		synctest.Wait() // one given up (503) and waiting, the other held
		if st := c.Stats(); st.SpoolRequeued != 10 || st.InFlight != 10 {
			t.Fatalf("SpoolRequeued %d InFlight %d, want one batch answered 503 and the other in flight", st.SpoolRequeued, st.InFlight)
		}
		close(hold) // the other is delivered
		start := time.Now()
		if err := flushWithin(t, c, 2*time.Minute); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		if waited := time.Since(start); waited > time.Second {
			t.Errorf("the batch given up was sent again %v after a delivery, want at once", waited)
		}
		if got := acceptedIDs(tr); len(got) != 20 {
			t.Errorf("%d of 20 messages arrived", len(got))
		}
	})
}
