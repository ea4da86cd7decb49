package analytics_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests in this file race the client's methods against each other
// from many goroutines. scripts/race-stress.sh runs every test whose name
// contains ConcurrentSafe a hundred times under the race detector; each
// is kept to a fraction of a second for that.

// outcomes records, per message id, the callback results and what the
// server accepted, and checks that they agree.
type outcomes struct {
	mu  sync.Mutex
	cb  map[string][]error
	bad []string
}

func newOutcomes() *outcomes { return &outcomes{cb: map[string][]error{}} }

func (o *outcomes) callback(r analytics.Result) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if r.MessageID == "" {
		o.bad = append(o.bad, fmt.Sprintf("a Result without a MessageID: %+v", r))
	}
	o.cb[r.MessageID] = append(o.cb[r.MessageID], r.Err)
}

// check: one callback per accepted message and none for others; the
// delivered ones are exactly those the server accepted; the counts match
// Stats.
func (o *outcomes) check(t *testing.T, accepted map[string]bool, srv *analyticstest.Server, st analytics.Stats) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	assert.Empty(t, o.bad)
	got := acceptedIDs(srv)
	delivered, failed := 0, 0
	for id := range accepted {
		errs := o.cb[id]
		if !assert.Len(t, errs, 1, "message %s: callbacks", id) {
			continue
		}
		if errs[0] == nil {
			delivered++
			assert.NotZero(t, got[id], "message %s: callback says delivered, server never accepted it", id)
		} else {
			failed++
			assert.Zero(t, got[id], "message %s: callback says %v, server accepted it", id, errs[0])
		}
	}
	for id := range o.cb {
		assert.True(t, accepted[id], "a callback for %s, which Enqueue did not accept", id)
	}
	for id := range got {
		assert.True(t, accepted[id], "the server accepted %s, which Enqueue did not accept", id)
	}
	assert.Equal(t, int64(delivered), st.Delivered)
	assert.Equal(t, int64(failed), st.Failed)
	assert.Equal(t, int64(len(accepted)), st.Enqueued)
	statsAddUp(t, st)
}

// acceptedSet is a concurrent set of message ids.
type acceptedSet struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (a *acceptedSet) add(id string) {
	a.mu.Lock()
	if a.ids == nil {
		a.ids = map[string]bool{}
	}
	a.ids[id] = true
	a.mu.Unlock()
}

func (a *acceptedSet) get() map[string]bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]bool, len(a.ids))
	for k := range a.ids {
		out[k] = true
	}
	return out
}

// flakyServer fails some requests for good (400: not retried, and
// bisected in strict mode) and some for a while (503, dropped connections:
// retried), at random: the first 5,000 answers are drawn from seed, the
// rest are 200.
func flakyServer(t *testing.T, seed uint64) *analyticstest.Server {
	rng := rand.New(rand.NewPCG(seed, 7))
	srv := analyticstest.NewServer(t)
	script := make([]analyticstest.Response, 5000)
	for i := range script {
		switch p := rng.IntN(100); {
		case p < 10:
			script[i] = analyticstest.Response{Status: 400, Body: `{"error":"rejected"}`}
		case p < 25:
			script[i] = analyticstest.Response{Status: 503}
		case p < 30:
			script[i] = analyticstest.Response{CloseConnection: true}
		case p < 35:
			script[i] = analyticstest.Response{Delay: 2 * time.Millisecond}
		}
	}
	srv.Script(script...)
	return srv
}

// TestFlushShutdownConcurrentSafe: Enqueue and Flush from eight goroutines
// race three Shutdowns and two Closes, against a server that refuses some
// batches for good and fails others for a while. Every Flush returns nil,
// ErrClosed or a *DeliveryError; all Shutdowns and Closes return the same
// value; every lost message is reported at least once (by the Flush calls
// that waited for it, or else by Shutdown), so the Undelivered counts add up
// to Stats.Failed or more, and Shutdown's to no more than Stats.Failed; and
// each message's callback agrees with what the server received.
func TestFlushShutdownConcurrentSafe(t *testing.T) {
	t.Parallel()
	srv := flakyServer(t, rand.Uint64())
	o := newOutcomes()
	c := newTestClient(t, srv.URL, fastRetries(analytics.WithBatchSize(7), analytics.WithMaxAttempts(50), analytics.WithCallback(o.callback))...)

	var accepted acceptedSet
	var reported atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 150 {
				id := fmt.Sprintf("g%d-%d", g, i)
				switch err := c.Enqueue(track(id)); {
				case err == nil:
					accepted.add(id)
				case errors.Is(err, analytics.ErrClosed):
				default:
					assert.NoError(t, err, "Enqueue")
				}
				if i%25 == 0 {
					err := c.Flush(bounded(t))
					if de := isDeliveryError(err); de != nil {
						reported.Add(de.Undelivered)
					} else if err != nil && !errors.Is(err, analytics.ErrClosed) {
						assert.NoError(t, err, "Flush")
					}
				}
			}
		}()
	}
	ends := make([]error, 5)
	for k := range ends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(rand.IntN(10)) * time.Millisecond) // vary the moment; correctness does not depend on it
			if k < 3 {
				ends[k] = c.Shutdown(bounded(t))
			} else {
				ends[k] = c.Close()
			}
		}()
	}
	wg.Wait()
	for _, err := range ends[1:] {
		assert.Equal(t, ends[0], err, "every Shutdown and Close returns the same")
	}
	st := c.Stats()
	if de := isDeliveryError(ends[0]); de != nil {
		reported.Add(de.Undelivered)
		assert.LessOrEqual(t, de.Undelivered, st.Failed, "Shutdown counts no loss twice")
	} else {
		require.NoError(t, ends[0])
	}
	assert.GreaterOrEqual(t, reported.Load(), st.Failed, "every loss reported at least once")
	assert.Zero(t, st.Queued)
	assert.Zero(t, st.InFlight)
	o.check(t, accepted.get(), srv, st)
}

// TestEnqueueContextShutdownConcurrentSafe: sixteen goroutines keep
// calling EnqueueContext on a small queue, many of them blocked waiting
// for room, when Shutdown begins. Every call returns nil or ErrClosed,
// none stays blocked, and everything accepted is delivered.
func TestEnqueueContextShutdownConcurrentSafe(t *testing.T) {
	t.Parallel()
	srv := analyticstest.NewServer(t)
	srv.SetDefault(analyticstest.Response{Delay: time.Millisecond})
	o := newOutcomes()
	c := newTestClient(t, srv.URL, fastRetries(analytics.WithBatchSize(5), analytics.WithMaxInFlight(2), analytics.WithQueueCapacity(10), analytics.WithCallback(o.callback))...)

	var accepted acceptedSet
	var closedSeen atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				id := fmt.Sprintf("g%d-%d", g, i)
				err := c.EnqueueContext(context.Background(), track(id))
				switch {
				case err == nil:
					accepted.add(id)
				case errors.Is(err, analytics.ErrClosed):
					closedSeen.Add(1)
					return
				default:
					assert.NoError(t, err, "EnqueueContext")
					return
				}
			}
		}()
	}
	// Shut down once the queue has been full (producers were blocked).
	waitFor(t, "a full queue", func() bool { return c.Stats().Queued >= 10 })
	ctx := bounded(t)
	var shut sync.WaitGroup
	errs := make([]error, 2)
	for k := range errs {
		shut.Add(1)
		go func() { defer shut.Done(); errs[k] = c.Shutdown(ctx) }()
	}
	wg.Wait() // every producer returned: none is stuck
	shut.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	assert.Equal(t, int64(16), closedSeen.Load(), "each producer ended with ErrClosed")
	st := c.Stats()
	assert.Equal(t, st.Enqueued, st.Delivered, "everything accepted was delivered")
	o.check(t, accepted.get(), srv, st)
}

// TestCallbacksConcurrentSafe: with eight senders calling the callback at
// once under load and failures, every accepted message gets exactly one
// callback, delivered ones are exactly those the server accepted, and a
// slow or panicking callback does not stop delivery.
func TestCallbacksConcurrentSafe(t *testing.T) {
	t.Parallel()
	srv := flakyServer(t, rand.Uint64())
	o := newOutcomes()
	var calls atomic.Int64
	c := newTestClient(t, srv.URL, fastRetries(analytics.WithBatchSize(10), analytics.WithMaxInFlight(8), analytics.WithMaxAttempts(50), analytics.WithCallback(func(r analytics.Result) {
		o.callback(r)
		if calls.Add(1)%97 == 0 {
			time.Sleep(time.Millisecond) // a slow callback now and then
		}
	}))...)
	var accepted acceptedSet
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				id := fmt.Sprintf("g%d-%d", g, i)
				if err := c.EnqueueContext(context.Background(), track(id)); err != nil {
					assert.NoError(t, err, "EnqueueContext")
					return
				}
				accepted.add(id)
			}
		}()
	}
	wg.Wait()
	err := c.Close()
	st := c.Stats()
	if st.Failed > 0 {
		de := isDeliveryError(err)
		require.NotNil(t, de, "%v", err)
		assert.Equal(t, st.Failed, de.Undelivered)
		assert.Equal(t, st.Failed, st.FailedStatus, "only the 400s are lost")
	} else {
		require.NoError(t, err)
	}
	o.check(t, accepted.get(), srv, st)
}

// TestStatsConcurrentSafe: Stats read in a loop while eight goroutines
// enqueue and the server fails now and then: the counters never go
// backwards, and every snapshot adds up, while the queue drains too.
func TestStatsConcurrentSafe(t *testing.T) {
	t.Parallel()
	srv := flakyServer(t, rand.Uint64())
	c := newTestClient(t, srv.URL, fastRetries(analytics.WithBatchSize(9), analytics.WithMaxAttempts(50), analytics.WithFlushInterval(time.Millisecond))...)
	stop := make(chan struct{})
	watcher := analytics.WatchStats(c.Stats, stop)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				_ = c.Enqueue(track(fmt.Sprintf("g%d-%d", g, i)))
			}
		}()
	}
	wg.Wait()
	_ = c.Flush(bounded(t))
	close(stop)
	require.NoError(t, <-watcher)
	_ = c.Close()
	st := c.Stats()
	statsAddUp(t, st)
	assert.Equal(t, st.Enqueued+st.DroppedQueueFull, int64(8*200))
}

// TestNilClientConcurrentSafe: every method of a nil *Client, from many
// goroutines at once, returns its documented result without a panic.
func TestNilClientConcurrentSafe(t *testing.T) {
	t.Parallel()
	var c *analytics.Client
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.ErrorIs(t, c.Enqueue(track("x")), analytics.ErrClosed)
			assert.ErrorIs(t, c.EnqueueContext(context.Background(), track("x")), analytics.ErrClosed)
			assert.ErrorIs(t, c.Flush(bounded(t)), analytics.ErrClosed)
			assert.NoError(t, c.Shutdown(bounded(t)))
			assert.NoError(t, c.Close())
			assert.Equal(t, analytics.Stats{}, c.Stats())
		}()
	}
	wg.Wait()
}

// TestQueuedBytesIntactWhileBatchesFinishOutOfOrder checks that reusing
// the batches' buffers never hands a message's bytes to another message
// while the first is still being sent or reported: four producers keep
// filling buffers while four senders hold their batches for a random
// while, so buffers are reused and filled again while others are in
// flight.
// Every 40th message is invalid, so its batch is refused and bisected:
// the halves are written from the queued bytes after the first answer,
// and the callbacks read each message's id after the last one. Every
// message must be reported once, with its own id, and every valid one
// arrive once, with its own properties. Messages from 0 to 1,800 bytes,
// and some of 9 to 10 KB, so that buffers grow while they fill.
func TestQueuedBytesIntactWhileBatchesFinishOutOfOrder(t *testing.T) {
	t.Parallel()
	const producers, perProducer = 4, 1500
	invalid := func(i int) bool { return i%40 == 39 }
	s := analyticstest.NewServer(t, analyticstest.WithViolationsAllowed(),
		analyticstest.WithMessageRule(func(m analyticstest.Message) error {
			if m.Properties["invalid"] == true {
				return errors.New("marked invalid by the test")
			}
			return nil
		}))
	s.SetDefault(analyticstest.Response{Delay: time.Millisecond})
	var mu sync.Mutex
	reported := make(map[string]error, producers*perProducer)
	var dup []string
	var delays atomic.Int64
	c := newTestClient(t, s.URL, analytics.WithBatchSize(7), analytics.WithMaxInFlight(4), analytics.WithQueueCapacity(70),
		analytics.WithCallback(func(r analytics.Result) {
			mu.Lock()
			if _, ok := reported[r.MessageID]; ok || r.Event != "Bytes Checked" {
				dup = append(dup, r.MessageID+" "+r.Event)
			}
			reported[r.MessageID] = r.Err
			mu.Unlock()
			if delays.Add(1)%13 == 0 { // vary how long a sender holds its batch
				time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
			}
		}))
	pad := func(i int) string {
		size := i % 1800
		if i%97 == 0 {
			size = 9000 + i%1000 // a large one, so that the buffer grows
		}
		return strings.Repeat(string(rune('a'+i%26)), size)
	}
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range perProducer {
				i := p*perProducer + k
				props := analytics.Properties{"n": i, "pad": pad(i)}
				if invalid(i) {
					props["invalid"] = true
				}
				assert.NoError(t, c.EnqueueContext(bounded(t), analytics.Track{
					MessageID: fmt.Sprintf("m-%d", i), UserID: "u", Event: "Bytes Checked", Properties: props,
				}))
			}
		}()
	}
	wg.Wait()
	var de *analytics.DeliveryError
	err := c.Flush(bounded(t))
	require.ErrorAs(t, err, &de)
	require.EqualValues(t, producers*perProducer/40, de.Undelivered)

	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, dup, "messages reported twice, or with another event name")
	require.Len(t, reported, producers*perProducer)
	for i := range producers * perProducer {
		err, ok := reported[fmt.Sprintf("m-%d", i)]
		require.True(t, ok, "message m-%d was never reported", i)
		require.Equal(t, invalid(i), err != nil, "message m-%d reported with %v", i, err)
	}
	seen := make(map[string]bool, producers*perProducer)
	for _, m := range s.Messages() {
		require.False(t, seen[m.MessageID], "message %s arrived twice", m.MessageID)
		seen[m.MessageID] = true
		i, err := strconv.Atoi(strings.TrimPrefix(m.MessageID, "m-"))
		require.NoError(t, err, "message id %q", m.MessageID)
		require.False(t, invalid(i), "invalid message %s was accepted", m.MessageID)
		require.EqualValues(t, i, m.Properties["n"], "message %s carries another message's n", m.MessageID)
		require.Equal(t, pad(i), m.Properties["pad"], "message %s carries another message's pad", m.MessageID)
	}
	require.Len(t, seen, producers*perProducer-producers*perProducer/40)
	for _, v := range s.Violations() { // mixed-up bytes would be malformed JSON, say
		require.Equal(t, analyticstest.ViolationInvalidMessage, v.Kind, "%s", v)
	}
}

// TestConcurrentSafe races Enqueue, Flush, Stats and Shutdown from many
// goroutines: no panic, and every accepted message is delivered exactly
// once.
func TestConcurrentSafe(t *testing.T) {
	t.Parallel()
	s := analyticstest.NewServer(t)
	for range 200 { // every 7th answer is a 502, which is retried
		s.Script(analyticstest.Response{}, analyticstest.Response{}, analyticstest.Response{}, analyticstest.Response{},
			analyticstest.Response{}, analyticstest.Response{}, analyticstest.Response{Status: http.StatusBadGateway})
	}
	c := newTestClient(t, s.URL, deterministic(analytics.WithBatchSize(17), analytics.WithFlushInterval(time.Millisecond), analytics.WithRetryWait(time.Millisecond, 2*time.Millisecond), analytics.WithMaxAttempts(50))...)
	var accepted sync.Map
	var wg sync.WaitGroup
	var closedSeen atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				id := fmt.Sprintf("g%d-%d", g, i)
				err := c.Enqueue(analytics.Track{UserID: "u", Event: "Race", MessageID: id})
				switch {
				case err == nil:
					accepted.Store(id, true)
				case errors.Is(err, analytics.ErrClosed):
					closedSeen.Add(1)
				default:
					assert.NoError(t, err, "Enqueue")
				}
				if i%100 == 0 {
					err := c.Flush(bounded(t))
					if err != nil && !errors.Is(err, analytics.ErrClosed) {
						assert.NoError(t, err, "Flush")
					}
					_ = c.Stats()
				}
			}
		}()
	}
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
			assert.NoError(t, c.Shutdown(bounded(t)))
		}()
	}
	wg.Wait()
	require.NoError(t, c.Close())

	got := acceptedIDs(s)
	n := 0
	accepted.Range(func(k, _ any) bool {
		n++
		assert.Equal(t, 1, got[k.(string)], "message %s", k)
		return true
	})
	assert.Len(t, got, n, "nothing delivered that was not accepted")
	st := c.Stats()
	assert.Equal(t, int64(n), st.Delivered)
	assert.Equal(t, st.Enqueued, st.Delivered+st.Failed+st.Queued+st.InFlight)
	t.Logf("accepted %d, refused after close %d, requests %d", n, closedSeen.Load(), st.Requests)
}
