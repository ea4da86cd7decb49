package analytics_test

import (
	"testing"

	analytics "github.com/cdpkit/analytics-go"
)

// The cost of shaping (BENCHMARKS.md, "Shaping what you send"): the
// benchmarks of bench_test.go with a default context, and with RedactKeys
// on top of it. Without either option Enqueue takes the path those
// benchmarks measure, unchanged.

// benchDefaultContext is what a service sets once: its app and channel,
// and a trait of the tenant.
var benchDefaultContext = analytics.WithDefaultContext(analytics.Context{
	App:     &analytics.AppInfo{Name: "checkout", Version: "4.2.0"},
	Channel: analytics.ChannelServer,
	Traits:  analytics.Traits{"tenant": "acme"},
})

// BenchmarkEnqueueShapedDefaultContext is BenchmarkEnqueueTrack3Props with
// a default context, merged as the message is written.
func BenchmarkEnqueueShapedDefaultContext(b *testing.B) {
	benchEnqueue(b, enqueueTrack3Props, benchDefaultContext)
}

// BenchmarkEnqueueShapedRedactKeys is BenchmarkEnqueueTrack3Props with a
// default context and RedactKeys: every message goes through an Envelope.
func BenchmarkEnqueueShapedRedactKeys(b *testing.B) {
	benchEnqueue(b, enqueueTrack3Props, benchDefaultContext,
		analytics.WithTransform(analytics.RedactKeys("email", "phone")))
}

// BenchmarkEnqueueShapedOrderCompleted is BenchmarkEnqueueOrderCompleted,
// a typed helper with two products, with a default context and
// RedactKeys.
func BenchmarkEnqueueShapedOrderCompleted(b *testing.B) {
	benchEnqueue(b, enqueueOrderCompleted, benchDefaultContext,
		analytics.WithTransform(analytics.RedactKeys("email", "phone")))
}
