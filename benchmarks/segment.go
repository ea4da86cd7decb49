package benchmarks

import (
	segment "gopkg.in/segmentio/analytics-go.v3"
)

// Segment analytics-go v3.1.0, the engine of Customer.io's own Go SDK.
//
// On a full buffer: Enqueue sends each message on a channel of 100 (fixed,
// no option), so the caller blocks whenever the single batching goroutine,
// which JSON-encodes every message itself, is behind. That goroutine never
// waits on the network: each batch of 250 is POSTed from its own goroutine,
// at most 1000 at a time (250,000 events); past that, a full batch is
// dropped at once ("too many requests are already in-flight", Failure
// callback). Against a stalled server memory therefore stops growing at
// about 1000 batches and the rest of a burst is lost. A request that fails
// (10 s HTTP timeout, not configurable) is retried up to 10 times with
// backoff; Close drops the batches waiting for a retry.
// There is no request compression.
//
// Segment's Product type has the wrong JSON keys for the spec ("id", "sky",
// no quantity), so products are maps with the spec's keys.

type segmentClient struct{ c segment.Client }

func newSegment(cfg clientConfig) (benchClient, error) {
	c, err := segment.NewWithConfig(apiKey, segment.Config{
		Endpoint:  cfg.endpoint, // posts to <endpoint>/v1/batch
		Interval:  flushInterval,
		BatchSize: cfg.batch(),
		Transport: cfg.transport,
		Logger:    silentLogger{},
	})
	if err != nil {
		return nil, err
	}
	return segmentClient{c}, nil
}

func (s segmentClient) TrackOrder(o *orderCompleted) error {
	products := make([]map[string]any, len(o.Products))
	for i, p := range o.Products {
		products[i] = map[string]any{
			"product_id": p.ProductID,
			"sku":        p.SKU,
			"name":       p.Name,
			"price":      p.Price,
			"quantity":   p.Quantity,
		}
	}
	return s.c.Enqueue(segment.Track{
		UserId: o.UserID,
		Event:  orderEvent,
		Properties: segment.Properties{
			"order_id": o.OrderID,
			"total":    o.Total,
			"revenue":  o.Revenue,
			"currency": o.Currency,
			"products": products,
		},
	})
}

func (s segmentClient) Track3() error {
	return s.c.Enqueue(segment.Track{
		UserId: track3UserID,
		Event:  track3Event,
		Properties: segment.Properties{
			"button": track3Button,
			"plan":   track3Plan,
			"items":  track3Items,
		},
	})
}

func (s segmentClient) Identify5() error {
	return s.c.Enqueue(segment.Identify{
		UserId: identifyUserID,
		Traits: segment.Traits{
			"email":    identifyEmail,
			"name":     identifyName,
			"plan":     identifyPlan,
			"logins":   identifyLogins,
			"verified": identifyVerified,
		},
	})
}

func (s segmentClient) Close() error { return s.c.Close() }
