package analytics_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// This file tests that the client's bounds hold and that input it cannot
// send as it is never reaches the wire.

// TestStalledServerHeapBounded: against a server that never answers, with
// the default queue, the heap the client holds stays within twice the
// bytes its messages take plus a constant: a queued message does not pin a
// pooled buffer behind it, even when garbage collection empties the pools
// between messages (as it does under load and under -race).
func TestStalledServerHeapBounded(t *testing.T) {
	stall := newHangingTransport()
	defer close(stall.release)
	c, err := analytics.New(testKey,
		analytics.WithHTTPClient(&http.Client{Transport: stall}),
		analytics.WithFlushInterval(time.Hour),
		analytics.WithLogger(quietLogger()))
	require.NoError(t, err)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_ = c.Shutdown(ctx)
	}()

	before := liveHeap()
	msgBytes := int64(0)
	for i := 0; ; i++ {
		if i%5 == 0 {
			runtime.GC() // empties the pools, as a busy program's GC does
		}
		err := c.Enqueue(analytics.Track{UserID: "user-1", Event: "Stalled", Properties: analytics.Properties{"i": i}})
		if errors.Is(err, analytics.ErrQueueFull) {
			break
		}
		require.NoError(t, err)
		require.Less(t, i, 2*analytics.DefaultQueueCapacity, "the queue never filled")
	}
	st := c.Stats()
	require.Equal(t, int64(analytics.DefaultQueueCapacity), st.Queued, "the default queue is full")
	msgBytes = st.QueuedBytes * (st.Queued + st.InFlight) / st.Queued
	growth := int64(liveHeap()) - int64(before)
	// The constant: the senders' request bodies and per-message
	// bookkeeping (a few dozen bytes each).
	const constant = 4 << 20
	t.Logf("%d messages queued, %d in flight, %d message bytes: heap grew %d bytes", st.Queued, st.InFlight, msgBytes, growth)
	assert.LessOrEqual(t, growth, 2*msgBytes+constant)
	assert.LessOrEqual(t, growth, int64(2*analytics.DefaultQueueMaxBytes+constant))
}

// TestClockOutOfRange: a WithClock time outside years 0-9999 never goes
// out as text that is not RFC 3339, neither as a message timestamp nor as
// sentAt; the fake would refuse the batch otherwise.
func TestClockOutOfRange(t *testing.T) {
	for _, now := range []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-5, 6, 1, 0, 0, 0, 0, time.UTC),
	} {
		t.Run(fmt.Sprint(now.Year()), func(t *testing.T) {
			srv := analyticstest.NewServer(t)
			c := newTestClient(t, srv.URL, fastRetries(analytics.WithClock(func() time.Time { return now }))...)
			require.NoError(t, c.Enqueue(track("t1")))
			require.NoError(t, c.Flush(bounded(t)))
			msgs := srv.Messages()
			require.Len(t, msgs, 1)
			assert.False(t, msgs[0].Timestamp.IsZero())
			assert.True(t, msgs[0].Timestamp.Year() == 0 || msgs[0].Timestamp.Year() == 9999, "%v", msgs[0].Timestamp)
			assert.Empty(t, srv.Violations())
		})
	}
}

type badUTF8Marshaler struct{}

func (badUTF8Marshaler) MarshalJSON() ([]byte, error) { return []byte("{\"name\":\"caf\xe9\"}"), nil }

// TestInvalidUTF8FromMarshalerRepaired: invalid UTF-8 in a MarshalJSON
// result or a json.RawMessage is sent as U+FFFD, never raw.
func TestInvalidUTF8FromMarshalerRepaired(t *testing.T) {
	srv := analyticstest.NewServer(t)
	c := newTestClient(t, srv.URL, fastRetries()...)
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{
		"m": badUTF8Marshaler{},
		"r": json.RawMessage("[\"x\xff\"]"),
	}}))
	require.NoError(t, c.Flush(bounded(t)))
	msgs := srv.Messages()
	require.Len(t, msgs, 1)
	raw := string(msgs[0].Raw)
	assert.True(t, utf8.ValidString(raw), "raw invalid UTF-8 sent: %q", raw)
	assert.Equal(t, map[string]any{"name": "caf\uFFFD"}, msgs[0].Properties["m"])
	assert.Equal(t, []any{"x\uFFFD"}, msgs[0].Properties["r"])
	assert.Equal(t, 2, strings.Count(raw, "\uFFFD"))
}
