package analytics

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Allocation counts are deterministic (unlike times), so these are unit
// tests: they fail when a message starts escaping to the heap again, which
// happens silently when the encoder keeps something of the message (a
// string in the pooled encoder or in an error, a map handed to reflection)
// or when encodeKnown calls appendMessage through the interface. Each
// message is built inside the measured function, as a caller builds it, so
// that an escaping message shows as its own allocations (the boxed struct,
// the *float64 of Float64, the map of Properties).

// allocCases are typed helpers and core calls whose encoding must not
// allocate, with or without slices. Each builds its message in the call
// to encodeMessage or Enqueue, as a caller does: a message built by a
// function that returns it as a Message, or passed through a func value,
// escapes because of that (the test's allocation, not the library's).
var allocCases = []struct {
	name    string
	encode  func(*encoder) error
	enqueue func(*Client) error
}{
	{"ProductClicked",
		func(e *encoder) error {
			return encodeMessage(e, ProductClicked{UserID: "u", ProductID: "p", Price: Float64(9.99), Quantity: Int(2)})
		},
		func(c *Client) error {
			return c.Enqueue(ProductClicked{UserID: "u", ProductID: "p", Price: Float64(9.99), Quantity: Int(2)})
		}},
	{"Track",
		func(e *encoder) error {
			return encodeMessage(e, Track{UserID: "u", Event: "Button Clicked", Properties: Properties{"button": "checkout", "plan": "pro", "items": 3}})
		},
		func(c *Client) error {
			return c.Enqueue(Track{UserID: "u", Event: "Button Clicked", Properties: Properties{"button": "checkout", "plan": "pro", "items": 3}})
		}},
	{"OrderCompleted",
		func(e *encoder) error {
			return encodeMessage(e, OrderCompleted{UserID: "u", OrderID: "o", Total: Float64(27.5), Currency: "USD",
				Products: []Product{{ProductID: "p1", Price: Float64(19), Quantity: Int(1)}, {ProductID: "p2", Price: Float64(3), Quantity: Int(2)}}})
		},
		func(c *Client) error {
			return c.Enqueue(OrderCompleted{UserID: "u", OrderID: "o", Total: Float64(27.5), Currency: "USD",
				Products: []Product{{ProductID: "p1", Price: Float64(19), Quantity: Int(1)}, {ProductID: "p2", Price: Float64(3), Quantity: Int(2)}}})
		}},
	{"ApplicationOpened",
		func(e *encoder) error {
			return encodeMessage(e, ApplicationOpened{UserID: "u", Version: "1.2", DeviceToken: "tok", Context: &Context{Device: &DeviceInfo{Model: "m"}}})
		},
		func(c *Client) error {
			return c.Enqueue(ApplicationOpened{UserID: "u", Version: "1.2", DeviceToken: "tok", Context: &Context{Device: &DeviceInfo{Model: "m"}}})
		}},
}

// TestEncodeDoesNotAllocate: encoding a message into a warm encoder
// allocates nothing, so the message stays on the caller's stack.
func TestEncodeDoesNotAllocate(t *testing.T) {
	e := &encoder{buf: make([]byte, 0, 4096), now: time.Unix(0, 0), library: `"library":{}`}
	for _, m := range allocCases {
		encode := func() {
			e.reset()
			// The check is inside the branch: its arguments, boxed for
			// testify, would be allocations of the measured function.
			if err := m.encode(e); err != nil {
				require.NoError(t, err, m.name)
			}
		}
		assert.Zero(t, testing.AllocsPerRun(100, encode), "%s: allocations of an encoding", m.name)
	}
}

// TestEnqueueAllocs: Enqueue of a message allocates nothing of its own:
// the queue copies its bytes into the buffer of the batch it will be sent
// in (batchqueue.go), and reuses settled batches with their buffers.
func TestEnqueueAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops encoders at random")
	}
	c, err := New("key", WithEndpoint("http://127.0.0.1:1"),
		WithHTTPClient(&http.Client{Transport: acceptTransport{}}),
		// Nothing is sent while measuring: the batcher and the senders,
		// which allocate in their own goroutines, stay idle.
		WithBatchSize(1000), WithQueueCapacity(10_000), WithFlushInterval(time.Hour))
	require.NoError(t, err)
	defer c.Close()
	// A new batch, or a grown buffer, every few hundred messages, which
	// AllocsPerRun's whole-number average over 100 runs rounds to 0.
	const perMessage = 0
	for _, m := range allocCases {
		enqueue := func() {
			if err := m.enqueue(c); err != nil { // inside the branch: see TestEncodeDoesNotAllocate
				require.NoError(t, err, m.name)
			}
		}
		assert.LessOrEqual(t, testing.AllocsPerRun(100, enqueue), float64(perMessage), "%s: allocations of an Enqueue", m.name)
		// Patient: this bounds a hang, not the speed of a Flush.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		assert.NoError(t, c.Flush(ctx))
		cancel()
	}
}

// acceptTransport answers every request with 200 and an empty object. The
// tests of this package's internals cannot use the public fake
// (analyticstest imports this package), and here the transport must
// allocate nothing of its own either, since AllocsPerRun counts every
// goroutine's allocations (nothing is sent while measuring, but a fake
// that decodes what it receives would make that a condition to check).
type acceptTransport struct{}

func (acceptTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
}
