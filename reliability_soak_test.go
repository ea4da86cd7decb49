package analytics_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	soakFlag   = flag.Bool("soak", false, "run the reliability soak with 200,000 events (default 5,000); or set CDP_SOAK=1")
	soakEvents = flag.Int("soak.events", 0, "events of the soak (overrides -soak)")
)

// soakSize is the number of events of TestSoak: 5,000 by default, 200,000
// with -soak or CDP_SOAK=1, or -soak.events.
func soakSize() int {
	switch {
	case *soakEvents > 0:
		return *soakEvents
	case *soakFlag, os.Getenv("CDP_SOAK") != "":
		return 200_000
	}
	return 5_000
}

// TestSoak sends many events through a server that fails 20% of requests
// with a 5xx, answers 10% with 429 and Retry-After, and drops 10% of
// connections (half after reading the request, half with a reset before
// reading it). Nothing may be lost: every message id is delivered at
// least once, nothing is dropped or failed, and Stats add up.
func TestSoak(t *testing.T) {
	n := soakSize()
	if testing.Short() && n > 5_000 {
		t.Skip("the long soak does not run with -short")
	}
	rng := rand.New(rand.NewPCG(2026, uint64(n)))
	var rngMu sync.Mutex
	statuses5xx := []int{500, 502, 503, 504}
	srv := newFaultServer(t, func(int) fault {
		rngMu.Lock()
		p, k := rng.IntN(100), rng.IntN(4)
		rngMu.Unlock()
		switch {
		case p < 20:
			return fault{Status: statuses5xx[k], Body: `{"error":"injected"}`}
		case p < 30:
			return fault{Status: 429, RetryAfter: strconv.Itoa(1 + k)}
		case p < 35:
			return fault{Drop: true}
		case p < 40:
			return fault{Reset: true}
		}
		return fault{}
	})

	res := &results{}
	// The callback only counts: at 200,000 events, keeping every Result
	// would measure the test, not the client.
	var cbMu sync.Mutex
	cbDelivered, cbFailed := 0, 0
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	defer tr.CloseIdleConnections()
	c, err := analytics.New(testKey,
		analytics.WithEndpoint(srv.endpoint()),
		analytics.WithLogger(quietLogger()),
		analytics.WithHTTPClient(&http.Client{Transport: tr}),
		analytics.WithBatchSize(100),
		analytics.WithMaxInFlight(8),
		analytics.WithQueueCapacity(2_000),
		// With a 40% failure rate, 30 attempts make a batch's loss a
		// 1-in-10^12 event.
		analytics.WithMaxAttempts(30),
		analytics.WithRetryWait(time.Millisecond, 20*time.Millisecond),
		// Retry-After asks for 1-4s; the cap keeps the soak short and
		// is itself under test.
		analytics.WithMaxRetryAfter(25*time.Millisecond),
		analytics.WithShutdownTimeout(10*time.Minute),
		analytics.WithCallback(func(r analytics.Result) {
			cbMu.Lock()
			if r.Err == nil {
				cbDelivered++
			} else {
				cbFailed++
				res.add(r)
			}
			cbMu.Unlock()
		}),
	)
	require.NoError(t, err)

	start := time.Now()
	const producers = 8
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < n; i += producers {
				// EnqueueContext waits for room: the soak measures loss
				// in delivery, not drops at a full queue.
				err := c.EnqueueContext(context.Background(), analytics.Track{
					UserID: "soak-" + strconv.Itoa(i%97), Event: "Soak Event", MessageID: "soak-" + strconv.Itoa(i),
					Properties: analytics.Properties{"i": i, "producer": p},
				})
				if err != nil {
					t.Errorf("EnqueueContext: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, c.Close(), "nothing lost")
	took := time.Since(start)

	accepted := srv.Accepted()
	missing, dup := 0, 0
	for i := range n {
		switch k := accepted["soak-"+strconv.Itoa(i)]; {
		case k == 0:
			missing++
		case k > 1:
			dup++
		}
	}
	assert.Zero(t, missing, "message ids never delivered")
	assert.Len(t, accepted, n, "no id delivered that was not sent")

	st := c.Stats()
	assert.Equal(t, int64(n), st.Enqueued)
	assert.Equal(t, int64(n), st.Delivered)
	assert.Zero(t, st.Failed)
	assert.Zero(t, st.DroppedQueueFull)
	assert.Zero(t, st.Queued)
	assert.Zero(t, st.InFlight)
	statsAddUp(t, st)
	assert.Equal(t, n, cbDelivered, "a callback for each message")
	assert.Zero(t, cbFailed, "failures: %v", res.get())
	assert.Equal(t, int64(srv.Requests()), st.Requests, "requests counted by the client and by the server")

	statuses := srv.Statuses()
	keys := make([]int, 0, len(statuses))
	for k := range statuses {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	summary := ""
	for _, k := range keys {
		name := strconv.Itoa(k)
		if k == 0 {
			name = "dropped"
		}
		summary += fmt.Sprintf(" %s:%d", name, statuses[k])
	}
	t.Logf("soak: %d events in %v (%.0f events/s): %d batches, %d requests, %d retries, %d duplicates; answers%s",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), st.Batches, st.Requests, st.Retries, dup, summary)
}
