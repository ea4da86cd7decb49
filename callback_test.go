package analytics_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// This file tests WithCallback: one Result per message, naming its event
// and id as sent, whatever the callback does (panics included). Its
// behaviour under concurrency is in concurrency_test.go
// (TestCallbacksConcurrentSafe).

// TestCallbackPanicContained: a panicking WithCallback function is logged;
// the other messages of the batch are still reported, and delivery and
// Flush go on.
func TestCallbackPanicContained(t *testing.T) {
	t.Parallel()
	s := analyticstest.NewServer(t)
	var logs logCapture
	var calls atomic.Int64
	c := newTestClient(t, s.URL, deterministic(analytics.WithLogger(logs.Logger()), analytics.WithCallback(func(analytics.Result) { calls.Add(1); panic("user bug") }))...)
	for range 3 {
		require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "E"}))
	}
	require.NoError(t, c.Flush(bounded(t)))
	require.NoError(t, c.Close())
	assert.Len(t, acceptedIDs(s), 3)
	assert.Equal(t, int64(3), calls.Load(), "every message of the batch reported")
	assert.Contains(t, logs.String(), "panicked")
}

// TestCallbackResultEvent: each Result names its message's event and id as
// sent, decoded from the encoded message, also when the JSON had to escape
// them (quotes, a backslash, control characters, U+2028, non-ASCII), for
// the memory queue and for the spool.
func TestCallbackResultEvent(t *testing.T) {
	t.Parallel()
	msgs := []analytics.Message{
		analytics.Track{UserID: "u", Event: "Button Clicked", MessageID: "m-plain"},
		analytics.Track{UserID: "u", Event: `Said "hi" \ back`, MessageID: `m-"quoted"`},
		analytics.Track{UserID: "u", Event: "tab\tnew\nline\u2028sep", MessageID: "m-control"},
		analytics.Track{UserID: "u", Event: "Café ☕ 注文 🎉", MessageID: "m-unicode"},
		analytics.Track{UserID: "u", Event: "  Trimmed  ", MessageID: "m-trimmed"},
		analytics.Identify{UserID: "u", MessageID: "m-identify"},
	}
	want := []analytics.Result{
		{MessageID: "m-plain", Type: "track", Event: "Button Clicked"},
		{MessageID: `m-"quoted"`, Type: "track", Event: `Said "hi" \ back`},
		{MessageID: "m-control", Type: "track", Event: "tab\tnew\nline\u2028sep"},
		{MessageID: "m-unicode", Type: "track", Event: "Café ☕ 注文 🎉"},
		{MessageID: "m-trimmed", Type: "track", Event: "Trimmed"},
		{MessageID: "m-identify", Type: "identify", Event: ""},
	}
	for _, spooled := range []bool{false, true} {
		t.Run(fmt.Sprintf("spool=%v", spooled), func(t *testing.T) {
			s := analyticstest.NewServer(t)
			var mu sync.Mutex
			var got []analytics.Result
			record := analytics.WithCallback(func(r analytics.Result) {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, r)
			})
			var c *analytics.Client
			if spooled {
				c = newSpoolClient(t, s.URL, t.TempDir(), record)
			} else {
				c = newTestClient(t, s.URL, record)
			}
			for _, m := range msgs {
				require.NoError(t, c.Enqueue(m))
			}
			require.NoError(t, c.Flush(bounded(t)))
			mu.Lock()
			defer mu.Unlock()
			assert.ElementsMatch(t, want, got)
			sent := map[string]any{}
			for _, m := range s.Messages() {
				sent[m.MessageID] = m.Event
			}
			for _, r := range want[:5] {
				assert.Equal(t, r.Event, sent[r.MessageID], "the event as sent, for %s", r.MessageID)
			}
		})
	}
}
