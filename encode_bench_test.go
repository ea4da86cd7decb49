package analytics

import (
	"testing"
	"time"
)

// BenchmarkEncode is the encoding Enqueue does for the benchmarks' events,
// without the queue: an encoder from the pool, the time, the message built
// by the caller (its map on the caller's stack) and encoded.
func BenchmarkEncode(b *testing.B) {
	const library = `"library":{"name":"github.com/cdpkit/analytics-go","version":"0.3.0"}`
	for _, bc := range []struct {
		name   string
		encode func(e *encoder) error
	}{
		{"Track3Props", func(e *encoder) error {
			return encodeMessage(e, Track{
				UserID:     "user-8f14e45fceea167a",
				Event:      "Button Clicked",
				Properties: Properties{"button": "checkout", "plan": "pro", "items": 3},
			})
		}},
		{"Identify5Traits", func(e *encoder) error {
			return encodeMessage(e, Identify{
				UserID: "user-8f14e45fceea167a",
				Traits: Traits{"email": "ada@example.com", "name": "Ada Lovelace", "plan": "pro", "logins": 42, "verified": true},
			})
		}},
		{"TrackNoProps", func(e *encoder) error {
			return encodeMessage(e, Track{UserID: "user-8f14e45fceea167a", Event: "Button Clicked"})
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			size := 0
			for b.Loop() {
				e := encoderPool.Get().(*encoder)
				e.reset()
				e.now = time.Now()
				e.library = library
				if err := bc.encode(e); err != nil {
					b.Fatal(err)
				}
				size = len(e.buf)
				encoderPool.Put(e)
			}
			b.SetBytes(int64(size))
		})
	}
}
