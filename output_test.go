package analytics_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOutputWritesWhatTheAPIWouldGet: with WithOutput, every message is
// one line holding exactly the bytes the API gets for it, in order; the
// client needs no key, validates as usual, counts the lines as delivered,
// and reports every outcome to the callback.
func TestOutputWritesWhatTheAPIWouldGet(t *testing.T) {
	names, msgs := everyMessage(t)
	api, _ := sendAll(t, msgs)

	var out logCapture // a buffer read while the client writes
	var results []analytics.Result
	var mu sync.Mutex
	c, err := analytics.New("", deterministic(
		analytics.WithOutput(&out),
		analytics.WithBatchSize(7),
		analytics.WithLogger(quietLogger()),
		analytics.WithCallback(func(r analytics.Result) { mu.Lock(); results = append(results, r); mu.Unlock() }))...)
	require.NoError(t, err)
	for _, m := range msgs {
		require.NoError(t, c.Enqueue(m))
	}
	invalid := c.Enqueue(analytics.DeletePerson{})
	var ve *analytics.ValidationError
	require.ErrorAs(t, invalid, &ve)
	require.NoError(t, c.Flush(bounded(t)))

	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, len(api))
	for i := range api {
		assert.Equal(t, string(api[i].Raw), lines[i], names[i])
	}
	st := c.Stats()
	assert.EqualValues(t, len(msgs), st.Enqueued)
	assert.EqualValues(t, len(msgs), st.Delivered)
	assert.EqualValues(t, 1, st.RejectedInvalid)
	assert.Zero(t, st.Requests)
	assert.EqualValues(t, (len(msgs)+6)/7, st.Batches)
	mu.Lock()
	assert.Len(t, results, len(msgs))
	for _, r := range results {
		assert.NoError(t, r.Err)
	}
	mu.Unlock()
	require.NoError(t, c.Close())
}

// TestOutputNeedsNoKeyOnlyWithOutput: an empty key is refused without
// WithOutput; with a nil writer, messages are counted and go nowhere.
func TestOutputNeedsNoKeyOnlyWithOutput(t *testing.T) {
	_, err := analytics.New("  ")
	require.Error(t, err)
	c, err := analytics.New("", analytics.WithOutput(nil))
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "E"}))
	}
	require.NoError(t, c.Close())
	assert.EqualValues(t, 3, c.Stats().Delivered)
}

// failingWriter accepts limit bytes in all, then fails.
type failingWriter struct {
	buf   bytes.Buffer
	limit int
}

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	room := w.limit - w.buf.Len()
	if room >= len(p) {
		return w.buf.Write(p)
	}
	w.buf.Write(p[:max(room, 0)])
	return max(room, 0), errDiskFull
}

// TestOutputWriteFails: a write that fails part-way delivers the lines it
// wrote whole and fails the others, with the writer's error, reported by
// Flush, Stats and the callback; later batches are written again once the
// writer has room.
func TestOutputWriteFails(t *testing.T) {
	line := func(i int) analytics.Track {
		return analytics.Track{UserID: "u", Event: "E", MessageID: fmt.Sprintf("m-%02d", i)}
	}
	probe := &logCapture{}
	p, err := analytics.New("", deterministic(analytics.WithOutput(probe))...)
	require.NoError(t, err)
	require.NoError(t, p.Enqueue(line(0)))
	require.NoError(t, p.Close())
	size := len(probe.String()) // every line of line(i) has this size

	w := &failingWriter{limit: 3*size + size/2} // three lines and a half
	var failed atomic.Int64
	c, err := analytics.New("", deterministic(
		analytics.WithOutput(w),
		analytics.WithLogger(quietLogger()),
		analytics.WithCallback(func(r analytics.Result) {
			if r.Err != nil {
				assert.ErrorIs(t, r.Err, errDiskFull)
				failed.Add(1)
			}
		}))...)
	require.NoError(t, err)
	for i := range 5 {
		require.NoError(t, c.Enqueue(line(i)))
	}
	err = c.Flush(bounded(t))
	var de *analytics.DeliveryError
	require.ErrorAs(t, err, &de)
	assert.EqualValues(t, 2, de.Undelivered)
	assert.ErrorIs(t, err, errDiskFull)
	st := c.Stats()
	assert.EqualValues(t, 3, st.Delivered)
	assert.EqualValues(t, 2, st.Failed)
	assert.EqualValues(t, 2, st.FailedRetries)
	assert.EqualValues(t, 2, failed.Load())
	assert.Equal(t, 3, strings.Count(w.buf.String(), "\n"))

	w.limit = 1 << 20 // room again
	require.NoError(t, c.Enqueue(line(5)))
	require.NoError(t, c.Flush(bounded(t)))
	assert.Contains(t, w.buf.String(), `"messageId":"m-05"`)
	require.NoError(t, c.Close())
}

// serialWriter fails the test if two Writes overlap.
type serialWriter struct {
	t      *testing.T
	in     atomic.Bool
	writes atomic.Int64
	lines  atomic.Int64
}

func (w *serialWriter) Write(p []byte) (int, error) {
	if w.in.Swap(true) {
		w.t.Error("two Writes at once")
	}
	defer w.in.Store(false)
	w.writes.Add(1)
	w.lines.Add(int64(bytes.Count(p, []byte("\n"))))
	if len(p) == 0 || p[len(p)-1] != '\n' {
		w.t.Error("a Write that does not end a line")
	}
	return len(p), nil
}

// TestOutputWritesAreSerialized: goroutines enqueuing at once, with small
// batches and several in flight, never make two Writes overlap, and every
// Write holds whole lines.
func TestOutputWritesAreSerialized(t *testing.T) {
	w := &serialWriter{t: t}
	c, err := analytics.New("", analytics.WithOutput(w), analytics.WithBatchSize(3), analytics.WithMaxInFlight(8))
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				if err := c.EnqueueContext(bounded(t), analytics.Track{UserID: fmt.Sprint(g), Event: fmt.Sprint(i)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, c.Close())
	assert.EqualValues(t, 1600, w.lines.Load())
	assert.Greater(t, w.writes.Load(), int64(1))
}

// panickingWriter panics on every Write.
type panickingWriter struct{}

func (panickingWriter) Write([]byte) (int, error) { panic("writer bug") }

// TestOutputWriterPanics: a writer that panics fails its batch's messages
// instead of crashing the program; the client goes on.
func TestOutputWriterPanics(t *testing.T) {
	c, err := analytics.New("", analytics.WithOutput(panickingWriter{}), analytics.WithLogger(quietLogger()))
	require.NoError(t, err)
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "E"}))
	err = c.Flush(bounded(t))
	var de *analytics.DeliveryError
	require.ErrorAs(t, err, &de)
	assert.EqualValues(t, 1, de.Undelivered)
	assert.Contains(t, err.Error(), "writer bug")
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "E"}))
	require.Error(t, c.Close())
	assert.EqualValues(t, 2, c.Stats().Failed)
}
