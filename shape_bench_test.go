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

func benchTrack3Props(c *analytics.Client) error {
	return c.EnqueueContext(benchCtx, analytics.Track{
		UserID:     "user-8f14e45fceea167a",
		Event:      "Button Clicked",
		Properties: analytics.Properties{"button": "checkout", "plan": "pro", "items": 3},
	})
}

func benchOrderCompleted(c *analytics.Client) error {
	return c.EnqueueContext(benchCtx, analytics.OrderCompleted{
		UserID:   "user-8f14e45fceea167a",
		OrderID:  "50314b8e9bcf000000000000",
		Total:    analytics.Float64(27.5),
		Revenue:  analytics.Float64(25),
		Currency: "USD",
		Products: []analytics.Product{
			{ProductID: "507f1f77bcf86cd799439011", SKU: "45790-32", Name: "Monopoly: 3rd Edition", Price: analytics.Float64(19), Quantity: analytics.Int(1)},
			{ProductID: "505bd76785ebb509fc183733", SKU: "46493-32", Name: "Uno Card Game", Price: analytics.Float64(3), Quantity: analytics.Int(2)},
		},
	})
}

// BenchmarkEnqueueShapedDefaultContext is BenchmarkEnqueueTrack3Props with
// a default context, merged as the message is written.
func BenchmarkEnqueueShapedDefaultContext(b *testing.B) {
	benchEnqueue(b, benchTrack3Props, benchDefaultContext)
}

// BenchmarkEnqueueShapedRedactKeys is BenchmarkEnqueueTrack3Props with a
// default context and RedactKeys: every message goes through an Envelope.
func BenchmarkEnqueueShapedRedactKeys(b *testing.B) {
	benchEnqueue(b, benchTrack3Props, benchDefaultContext,
		analytics.WithTransform(analytics.RedactKeys("email", "phone")))
}

// BenchmarkEnqueueShapedOrderCompleted is BenchmarkEnqueueOrderCompleted,
// a typed helper with two products, with a default context and
// RedactKeys.
func BenchmarkEnqueueShapedOrderCompleted(b *testing.B) {
	benchEnqueue(b, benchOrderCompleted, benchDefaultContext,
		analytics.WithTransform(analytics.RedactKeys("email", "phone")))
}
