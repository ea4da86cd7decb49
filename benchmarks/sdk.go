package benchmarks

import (
	"net/http"
	"time"

	analytics "github.com/cdpkit/analytics-go"
)

// The settings every client gets, so that the comparison is fair.
const (
	apiKey        = "bench-write-key"
	batchSize     = 250
	flushInterval = 5 * time.Second
	// Every run gets its own transport cloned from http.DefaultTransport
	// with this many idle connections per host (the default, 2, makes the
	// clients that send batches concurrently open and close connections).
	maxIdleConnsPerHost = 16
)

// clientConfig is what a benchmark hands to an sdk's constructor.
type clientConfig struct {
	endpoint  string // base URL of the sink, no trailing slash
	transport http.RoundTripper
	gzip      bool // compress request bodies (only for sdk.gzip)
	// wait: when the client's queue is full, wait for room rather than
	// reject the event. The end-to-end benchmarks set it, since they need
	// every event delivered; clients whose Enqueue always waits (both
	// competitors) ignore it.
	wait bool
	// batchSize is the most messages in a request; 0 is the batchSize
	// every benchmark uses.
	batchSize int
	// queueCapacity is cdpkit's WithQueueCapacity; 0 is the library's
	// default. The others have no such setting.
	queueCapacity int
	// cdpkitOptions are more options for cdpkit (a spool, say), after
	// the ones every run gives it. The others ignore them.
	cdpkitOptions []analytics.Option
}

// batch returns the batch size the client is to use.
func (c clientConfig) batch() int {
	if c.batchSize > 0 {
		return c.batchSize
	}
	return batchSize
}

// benchClient is one client under test. Each method builds its message from
// the fixtures (fixtures_test.go) the way a user of that library would, then
// enqueues it; building the message is part of the measured cost.
type benchClient interface {
	TrackOrder(o *orderCompleted) error // a track "Order Completed" with its products
	Track3() error                      // a map-based track with 3 properties
	Identify5() error                   // an identify with 5 traits
	Close() error                       // flush everything and stop
}

// sdk is one client under comparison. Adding one is a table entry.
type sdk struct {
	name string
	gzip bool // can compress request bodies
	// typed: the row differs from another only in sending Order
	// Completed as a typed helper; it runs only in the Order Completed
	// benchmarks.
	typed bool
	new   func(clientConfig) (benchClient, error)
}

// sdks are the rows of every table: cdpkit with maps (as the competitors
// send), cdpkit's typed helper on a row of its own, the two competitors,
// the lean floor every ratio is taken against (leanfloor.go), and the
// floor before issue 22 (floor.go).
var sdks = []sdk{
	{name: "cdpkit", gzip: true, new: newCDPKit},
	{name: "cdpkit-typed", gzip: true, typed: true, new: newCDPKitTyped},
	{name: "segment", new: newSegment},
	{name: "posthog", new: newPostHog},
	{name: "floor", new: newLeanFloor},
	{name: "oldfloor", new: newFloor},
}

// lookupSDK returns the sdk named name.
func lookupSDK(name string) (sdk, bool) {
	for _, s := range sdks {
		if s.name == name {
			return s, true
		}
	}
	return sdk{}, false
}

// newTransport returns the transport every client uses for one run.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = maxIdleConnsPerHost
	return t
}

// silentLogger satisfies the Logger interfaces of Segment v3 and posthog-go
// (both are Logf and Errorf) and drops everything.
type silentLogger struct{}

func (silentLogger) Logf(string, ...any)   {}
func (silentLogger) Errorf(string, ...any) {}
