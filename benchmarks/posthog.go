package benchmarks

import (
	"github.com/posthog/posthog-go"
)

// posthog-go (latest at the time of writing, see go.mod).
//
// On a full buffer: as in Segment v3, whose code it forked, Enqueue blocks
// on a fixed channel of 100 while the single batching goroutine (which
// JSON-encodes every message) is behind. Unlike Segment, its executor does
// not bound concurrency (its capacity of 1000 only bounds tasks not yet
// started, and each starts at once in a new goroutine), so against a stalled
// server goroutines, connections and queued events grow without bound and
// nothing is dropped. A request that fails (10 s HTTP timeout) is retried up
// to 10 times with backoff; Close drops the batches waiting for a retry.
// Enqueue also copies the properties into a new map with $lib and
// $lib_version, and stores a copy of the last event under a mutex. There is
// no request compression. The batch body is {"api_key":"...","batch":[...]},
// posted to <endpoint>/batch/.

type posthogClient struct{ c posthog.Client }

func newPostHog(cfg clientConfig) (benchClient, error) {
	c, err := posthog.NewWithConfig(apiKey, posthog.Config{
		Endpoint:  cfg.endpoint,
		Interval:  flushInterval,
		BatchSize: cfg.batch(),
		Transport: cfg.transport,
		Logger:    silentLogger{},
	})
	if err != nil {
		return nil, err
	}
	return posthogClient{c}, nil
}

func (p posthogClient) TrackOrder(o *orderCompleted) error {
	products := make([]map[string]any, len(o.Products))
	for i, pr := range o.Products {
		products[i] = map[string]any{
			"product_id": pr.ProductID,
			"sku":        pr.SKU,
			"name":       pr.Name,
			"price":      pr.Price,
			"quantity":   pr.Quantity,
		}
	}
	return p.c.Enqueue(posthog.Capture{
		DistinctId: o.UserID,
		Event:      orderEvent,
		Properties: posthog.Properties{
			"order_id": o.OrderID,
			"total":    o.Total,
			"revenue":  o.Revenue,
			"currency": o.Currency,
			"products": products,
		},
	})
}

func (p posthogClient) Track3() error {
	return p.c.Enqueue(posthog.Capture{
		DistinctId: track3UserID,
		Event:      track3Event,
		Properties: posthog.Properties{
			"button": track3Button,
			"plan":   track3Plan,
			"items":  track3Items,
		},
	})
}

func (p posthogClient) Identify5() error {
	return p.c.Enqueue(posthog.Identify{
		DistinctId: identifyUserID,
		Properties: posthog.Properties{
			"email":    identifyEmail,
			"name":     identifyName,
			"plan":     identifyPlan,
			"logins":   identifyLogins,
			"verified": identifyVerified,
		},
	})
}

func (p posthogClient) Close() error { return p.c.Close() }
