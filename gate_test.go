package analytics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The gate in front of the memory queue (see batcher): once the queue is
// full, Enqueue refuses without the batcher's lock and before it encodes.
// These tests hold the lock themselves, which only a test of the package's
// internals can do.

// gatePatience bounds every wait of these tests: a hang, not a speed.
const gatePatience = 2 * time.Minute

// heldTransport holds every request until release is closed or the
// request's context ends. (The public fake, analyticstest, imports this
// package, so the internal tests cannot use it.)
type heldTransport struct{ release chan struct{} }

func (h heldTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	select {
	case <-h.release:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
}

// newGateClient returns a client of capacity messages, one per batch and
// one sender, whose requests are held until release is closed, logging to
// logs.
func newGateClient(t *testing.T, release chan struct{}, capacity int, logs *LogCapture) *Client {
	t.Helper()
	c, err := New("key", WithEndpoint("http://127.0.0.1:1"), WithLogger(slog.New(slog.NewTextHandler(logs, nil))),
		WithHTTPClient(&http.Client{Transport: heldTransport{release}}),
		WithBatchSize(1), WithMaxInFlight(1), WithQueueCapacity(capacity), WithFlushInterval(time.Hour))
	require.NoError(t, err)
	return c
}

// stall enqueues until the pipeline is stalled for good: one batch (of
// one message) at the only sender, one cut and waiting for it, and the
// queue full with capacity messages; then one more, which the queue
// refuses, closing the gate until a cut that cannot come. It returns the
// number of messages accepted and refused.
func stall(t *testing.T, c *Client, capacity int) (accepted, refused int) {
	t.Helper()
	deadline := time.Now().Add(gatePatience)
	for {
		st := c.Stats()
		if st.InFlight == 2 && st.Queued == int64(capacity) {
			break
		}
		require.True(t, time.Now().Before(deadline), "the pipeline never stalled: %+v", st)
		switch err := c.Enqueue(Track{UserID: "u", Event: "fill"}); {
		case err == nil:
			accepted++
		case errors.Is(err, ErrQueueFull):
			refused++
			time.Sleep(time.Millisecond) // for the batcher and the sender
		default:
			require.NoError(t, err)
		}
	}
	require.ErrorIs(t, c.Enqueue(Track{UserID: "u", Event: "over"}), ErrQueueFull)
	return accepted, refused + 1
}

// TestFullQueueRefusesWithoutTheLock: with the queue full, Enqueue returns
// ErrQueueFull at once even while the batcher's lock is held, so that an
// overload's refusals never wait for each other, the batcher or the
// senders; it does not validate the message first; every refusal is
// counted, and the episode is not logged again. Shutdown opens the gate: from
// then on Enqueue returns ErrClosed.
func TestFullQueueRefusesWithoutTheLock(t *testing.T) {
	release := make(chan struct{})
	var logs LogCapture
	const capacity = 3
	c := newGateClient(t, release, capacity, &logs)
	accepted, refused := stall(t, c, capacity)
	warned := strings.Count(logs.String(), "queue full")

	const calls = 1000
	c.b.mu.Lock()
	done := make(chan []error, 1)
	go func() {
		errs := make([]error, 0, calls+1)
		for range calls {
			errs = append(errs, c.Enqueue(Track{UserID: "u", Event: "over"}))
		}
		errs = append(errs, c.Enqueue(Track{Event: "no identity"}))
		done <- errs
	}()
	var errs []error
	select {
	case errs = <-done:
	case <-time.After(gatePatience):
		c.b.mu.Unlock()
		require.FailNow(t, "Enqueue waited for the batcher's lock with the queue full")
	}
	c.b.mu.Unlock()
	for i, err := range errs {
		require.ErrorIs(t, err, ErrQueueFull, "call %d", i)
	}

	st := c.Stats()
	assert.Equal(t, int64(refused+calls+1), st.DroppedQueueFull, "refusals counted")
	assert.Equal(t, int64(accepted), st.Enqueued)
	assert.Zero(t, st.RejectedInvalid, "the invalid message was refused as the queue was full, not validated")
	assert.Equal(t, warned, strings.Count(logs.String(), "queue full"), "one warning for the episode:\n%s", logs.String())

	// Shutdown: its context ends at once, as the API holds every request.
	ctx, cancel := context.WithCancel(context.Background())
	shut := make(chan error, 1)
	go func() { shut <- c.Shutdown(ctx) }()
	untilBatcher(t, c, "Shutdown never began", func() bool { return c.b.closed })
	assert.ErrorIs(t, c.Enqueue(Track{UserID: "u", Event: "late"}), ErrClosed, "once Shutdown has begun")
	cancel()
	close(release)
	<-shut
}

// TestGateRefusalsKeepStatsExact: while eight producers are refused at the
// gate and let in as batches are cut, every Stats snapshot adds up, and
// DroppedQueueFull never goes backwards; at the end every call is counted
// once, as accepted or dropped.
func TestGateRefusalsKeepStatsExact(t *testing.T) {
	t.Parallel()
	c, err := New("key", WithEndpoint("http://127.0.0.1:1"), WithLogger(slog.New(slog.DiscardHandler)),
		WithHTTPClient(&http.Client{Transport: acceptTransport{}}),
		WithBatchSize(5), WithMaxInFlight(1), WithQueueCapacity(20), WithFlushInterval(time.Millisecond))
	require.NoError(t, err)
	defer c.Close()

	stop := make(chan struct{})
	watcher := WatchStats(c.Stats, stop)
	const producers, calls = 8, 5000
	var refused [producers]int64
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for range calls {
				if errors.Is(c.Enqueue(Track{UserID: "u", Event: "e"}), ErrQueueFull) {
					refused[p]++
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	require.NoError(t, <-watcher)
	ctx, cancel := context.WithTimeout(context.Background(), gatePatience)
	defer cancel()
	require.NoError(t, c.Flush(ctx))
	var dropped int64
	for _, n := range refused {
		dropped += n
	}
	st := c.Stats()
	assert.Equal(t, dropped, st.DroppedQueueFull, "every refusal counted once")
	assert.Equal(t, int64(producers*calls), st.Enqueued+st.DroppedQueueFull)
	assert.Equal(t, st.Enqueued, st.Delivered)
	assert.Positive(t, dropped, "the producers outran the sender")
}

// TestGateStaysOpenOnceShutdownBegan: an EnqueueContext waiting for room
// whose context ends just as Shutdown begins must not close the gate again
// after Shutdown opened it: from then on Enqueue returns ErrClosed, and a
// message refused then is not a DroppedQueueFull. The wait is woken by its
// context (the case a select takes is the one that woke it), and runs only
// after Shutdown began: GOMAXPROCS(1) holds it back while the test and
// Shutdown's goroutine run, which orders them without a sleep.
func TestGateStaysOpenOnceShutdownBegan(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var logs LogCapture
	const capacity = 3
	c := newGateClient(t, release, capacity, &logs)
	stall(t, c, capacity)

	ctx, cancel := context.WithCancel(context.Background())
	waited := make(chan error, 1)
	go func() { waited <- c.EnqueueContext(ctx, Track{UserID: "u", Event: "waits"}) }()
	untilBatcher(t, c, "EnqueueContext never waited for room", func() bool { return c.b.roomWait == 1 })

	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	shutCtx, shutCancel := context.WithTimeout(context.Background(), gatePatience)
	defer shutCancel()
	cancel() // the waiting EnqueueContext is woken by its context …
	shut := make(chan error, 1)
	go func() { shut <- c.Shutdown(shutCtx) }() // … and Shutdown begins before it runs
	select {
	case err := <-waited:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(gatePatience):
		require.FailNow(t, "EnqueueContext did not return once its context ended")
	}
	untilBatcher(t, c, "Shutdown never began", func() bool { return c.b.closed })
	before := c.Stats().DroppedQueueFull
	assert.ErrorIs(t, c.Enqueue(Track{UserID: "u", Event: "late"}), ErrClosed, "once Shutdown has begun")
	assert.Equal(t, before, c.Stats().DroppedQueueFull, "a message refused as the client closes is no drop")
	shutCancel()
	<-shut
}

// TestGateWarnsOfTheFirstDrop: a queue found full by an EnqueueContext
// (which waits rather than drop) must not close the gate on the Enqueue
// calls after it: the first Enqueue the full queue refuses goes through
// the batcher, which logs the episode's warning; only the refusals after
// it are silent. Before, an EnqueueContext's look closed the gate, and
// every Enqueue was dropped without the warning until the next cut, which
// a hanging API holds back for as long as it hangs.
func TestGateWarnsOfTheFirstDrop(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var logs LogCapture
	const capacity = 3
	c := newGateClient(t, release, capacity, &logs)

	// Fill the pipeline with EnqueueContext, which waits for room instead
	// of refusing: one message at the sender, one cut and waiting for
	// it, capacity queued.
	fill, cancelFill := context.WithTimeout(context.Background(), gatePatience)
	defer cancelFill()
	for range capacity + 2 {
		require.NoError(t, c.EnqueueContext(fill, Track{UserID: "u", Event: "fill"}))
	}
	deadline := time.Now().Add(gatePatience)
	for {
		st := c.Stats()
		if st.InFlight == 2 && st.Queued == capacity {
			break
		}
		require.True(t, time.Now().Before(deadline), "the pipeline never stalled: %+v", st)
		time.Sleep(time.Millisecond)
	}
	// An EnqueueContext whose context has ended finds the queue full.
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, c.EnqueueContext(ended, Track{UserID: "u", Event: "gives up"}), context.Canceled)
	require.NotContains(t, logs.String(), "queue full", "an EnqueueContext that waits drops nothing")

	require.ErrorIs(t, c.Enqueue(Track{UserID: "u", Event: "dropped"}), ErrQueueFull)
	require.ErrorIs(t, c.Enqueue(Track{UserID: "u", Event: "dropped"}), ErrQueueFull)
	assert.Equal(t, 1, strings.Count(logs.String(), "queue full"), "the episode's drops are logged, once:\n%s", logs.String())
	assert.Equal(t, int64(2), c.Stats().DroppedQueueFull)

	shut, cancelShut := context.WithCancel(context.Background())
	cancelShut() // the API holds every request
	_ = c.Shutdown(shut)
}

// untilBatcher waits, for at most gatePatience, until cond, called with the
// batcher's lock held, reports true; else it fails with what.
func untilBatcher(t *testing.T, c *Client, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(gatePatience)
	for {
		c.b.mu.Lock()
		ok := cond()
		c.b.mu.Unlock()
		if ok {
			return
		}
		require.True(t, time.Now().Before(deadline), what)
		time.Sleep(time.Millisecond)
	}
}
