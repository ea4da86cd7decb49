package analytics

import (
	"testing"
	"time"
)

// TestPtrDoesNotAllocate: a typed helper whose numbers and booleans are
// made with Ptr, in the message literal as a caller writes it, is encoded
// without an allocation: Ptr's values stay on the caller's stack, as &v's
// would.
func TestPtrDoesNotAllocate(t *testing.T) {
	e := &encoder{buf: make([]byte, 0, 4096), now: time.Unix(0, 0), library: `"library":{}`}
	encode := func() {
		e.reset()
		err := encodeMessage(e, VideoPlaybackStarted{UserID: "u", SessionID: "s",
			Position: Ptr(0), Sound: Ptr(80), FullScreen: Ptr(false), Bitrate: Ptr(320)})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := testing.AllocsPerRun(100, encode); n != 0 {
		t.Errorf("encoding a helper built with Ptr allocates %v times, want 0", n)
	}
	order := func() {
		e.reset()
		err := encodeMessage(e, OrderCompleted{UserID: "u", OrderID: "o", Total: Ptr(27.5),
			Products: []Product{{ProductID: "p1", Price: Ptr(0.0), Quantity: Ptr(1)}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := testing.AllocsPerRun(100, order); n != 0 {
		t.Errorf("encoding an OrderCompleted built with Ptr allocates %v times, want 0", n)
	}
}

// TestPtrWrappers: the deprecated Float64, Int and Bool make the same
// pointers as Ptr: a pointer to a copy of the value.
func TestPtrWrappers(t *testing.T) {
	v := 1.5
	p := Float64(v)
	v = 2
	if *p != 1.5 || *Int(7) != 7 || *Bool(true) != true || *Ptr("s") != "s" {
		t.Errorf("Float64, Int, Bool or Ptr do not point to a copy of their argument")
	}
}
