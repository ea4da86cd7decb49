package benchmarks

import (
	"net/http"
	"testing"
	"time"
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
	transport *http.Transport
	gzip      bool // compress request bodies (only for sdk.gzip)
	// wait: when the client's queue is full, wait for room rather than
	// reject the event. The end-to-end benchmarks set it, since they need
	// every event delivered; clients whose Enqueue always waits (both
	// competitors) ignore it.
	wait bool
}

// benchClient is one client under test. Each method builds its message from
// the fixtures (fixtures_test.go) the way a user of that library would, then
// enqueues it; building the message is part of the measured cost.
type benchClient interface {
	TrackOrder() error // "Order Completed" with two products
	Track3() error     // a map-based track with 3 properties
	Identify5() error  // an identify with 5 traits
	Close() error      // flush everything and stop
}

// sdk is one library under comparison. Adding one is a table entry.
type sdk struct {
	name string
	gzip bool // can compress request bodies
	new  func(clientConfig) (benchClient, error)
}

var sdks = []sdk{
	{name: "cdpkit", gzip: true, new: newCDPKit},
	{name: "segment", new: newSegment},
	{name: "posthog", new: newPostHog},
}

// forEachSDK runs fn as sub-benchmark b.Run(sdk.name, ...) for every sdk.
func forEachSDK(b *testing.B, fn func(b *testing.B, s sdk)) {
	for _, s := range sdks {
		b.Run(s.name, func(b *testing.B) { fn(b, s) })
	}
}

// newTransport returns the transport every client uses for one run.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = maxIdleConnsPerHost
	return t
}

// startClient starts a sink and a client of s sending to it, and registers
// their shutdown with b.Cleanup (Close is harmless if the benchmark already
// closed the client; it is needed when the benchmark fails half-way).
func startClient(b *testing.B, s sdk, cfg clientConfig) (*sink, benchClient) {
	b.Helper()
	sk := newSink(b)
	tr := newTransport()
	cfg.endpoint, cfg.transport = sk.URL(), tr
	c, err := s.new(cfg)
	if err != nil {
		b.Fatalf("%s: new client: %v", s.name, err)
	}
	b.Cleanup(func() {
		sk.Release()
		_ = c.Close()
		tr.CloseIdleConnections()
	})
	return sk, c
}

// silentLogger satisfies the Logger interfaces of Segment v3 and posthog-go
// (both are Logf and Errorf) and drops everything.
type silentLogger struct{}

func (silentLogger) Logf(string, ...any)   {}
func (silentLogger) Errorf(string, ...any) {}
