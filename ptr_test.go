package analytics

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPtrDoesNotAllocate: a typed helper whose numbers and booleans are
// made with Ptr, in the message literal as a caller writes it, is encoded
// without an allocation: Ptr's values stay on the caller's stack, as &v's
// would.
func TestPtrDoesNotAllocate(t *testing.T) {
	// Not parallel: AllocsPerRun counts every goroutine's allocations.
	e := &encoder{buf: make([]byte, 0, 4096), now: time.Unix(0, 0), library: `"library":{}`}
	encode := func() {
		e.reset()
		err := encodeMessage(e, VideoPlaybackStarted{UserID: "u", SessionID: "s",
			Position: Ptr(0), Sound: Ptr(80), FullScreen: Ptr(false), Bitrate: Ptr(320)})
		require.NoError(t, err)
	}
	assert.Zero(t, testing.AllocsPerRun(100, encode), "allocations of encoding a helper built with Ptr")
	order := func() {
		e.reset()
		err := encodeMessage(e, OrderCompleted{UserID: "u", OrderID: "o", Total: Ptr(27.5),
			Products: []Product{{ProductID: "p1", Price: Ptr(0.0), Quantity: Ptr(1)}}})
		require.NoError(t, err)
	}
	assert.Zero(t, testing.AllocsPerRun(100, order), "allocations of encoding an OrderCompleted built with Ptr")
}

// TestPtrWrappers: the deprecated Float64, Int and Bool make the same
// pointers as Ptr: a pointer to a copy of the value.
func TestPtrWrappers(t *testing.T) {
	t.Parallel()
	v := 1.5
	p := Float64(v)
	v = 2
	assert.Equal(t, 1.5, *p, "Float64 points to a copy of its argument")
	assert.Equal(t, 7, *Int(7))
	assert.Equal(t, true, *Bool(true))
	assert.Equal(t, "s", *Ptr("s"))
}
