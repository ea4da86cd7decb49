package benchmarks

import (
	"context"
	"log/slog"
	"net/http"

	analytics "github.com/cdpkit/analytics-go"
)

// github.com/cdpkit/analytics-go, this repository's library (the working
// tree, through the replace directive in go.mod).
//
// On a full buffer: Enqueue encodes the message in the caller's goroutine
// and appends the bytes to a queue bounded by message count (10,000) and
// bytes (32 MiB); when it is full, Enqueue returns ErrQueueFull at once
// rather than blocking, and the Enqueue and burst benchmarks count that as a
// rejection. The end-to-end benchmarks need every event delivered, so there
// the adapter calls EnqueueContext, which waits for room instead (the
// library's backpressure mode, the behaviour both competitors always have). One
// batcher goroutine cuts batches and hands them to a fixed pool of 4 sender
// goroutines, so memory stays bounded whatever the server does. Request
// compression is an option (WithGzip).

type cdpkitClient struct {
	c    *analytics.Client
	wait bool
}

// enqueue is Enqueue, or EnqueueContext when the benchmark waits for room.
func (k cdpkitClient) enqueue(m analytics.Message) error {
	if k.wait {
		return k.c.EnqueueContext(context.Background(), m)
	}
	return k.c.Enqueue(m)
}

func newCDPKit(cfg clientConfig) (benchClient, error) {
	opts := []analytics.Option{
		analytics.WithEndpoint(cfg.endpoint), // posts to <endpoint>/v1/batch
		analytics.WithBatchSize(cfg.batch()),
		analytics.WithFlushInterval(flushInterval),
		analytics.WithHTTPClient(&http.Client{Transport: cfg.transport}),
		analytics.WithLogger(slog.New(slog.DiscardHandler)),
		analytics.WithGzip(cfg.gzip),
	}
	if cfg.queueCapacity > 0 {
		opts = append(opts, analytics.WithQueueCapacity(cfg.queueCapacity))
	}
	opts = append(opts, cfg.cdpkitOptions...)
	c, err := analytics.New(apiKey, opts...)
	if err != nil {
		return nil, err
	}
	return cdpkitClient{c: c, wait: cfg.wait}, nil
}

// TrackOrder sends a map-based track, as the competitors do: the row to
// compare with theirs.
func (k cdpkitClient) TrackOrder(o *orderCompleted) error {
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
	return k.enqueue(analytics.Track{
		UserID: o.UserID,
		Event:  orderEvent,
		Properties: analytics.Properties{
			"order_id": o.OrderID,
			"total":    o.Total,
			"revenue":  o.Revenue,
			"currency": o.Currency,
			"products": products,
		},
	})
}

// cdpkitTypedClient is cdpkit sending Order Completed as its typed helper
// analytics.OrderCompleted, converted from the fixture in a loop (as the
// map rows convert it to maps). It is a row of its own: no competitor has
// typed spec events. Its other calls are cdpkit's.
type cdpkitTypedClient struct{ cdpkitClient }

func newCDPKitTyped(cfg clientConfig) (benchClient, error) {
	c, err := newCDPKit(cfg)
	if err != nil {
		return nil, err
	}
	return cdpkitTypedClient{c.(cdpkitClient)}, nil
}

func (k cdpkitTypedClient) TrackOrder(o *orderCompleted) error {
	products := make([]analytics.Product, len(o.Products))
	for i, p := range o.Products {
		products[i] = analytics.Product{
			ProductID: p.ProductID,
			SKU:       p.SKU,
			Name:      p.Name,
			Price:     analytics.Ptr(p.Price),
			Quantity:  analytics.Ptr(p.Quantity),
		}
	}
	return k.enqueue(analytics.OrderCompleted{
		UserID:   o.UserID,
		OrderID:  o.OrderID,
		Total:    analytics.Ptr(o.Total),
		Revenue:  analytics.Ptr(o.Revenue),
		Currency: o.Currency,
		Products: products,
	})
}

func (k cdpkitClient) Track3() error {
	return k.enqueue(analytics.Track{
		UserID: track3UserID,
		Event:  track3Event,
		Properties: analytics.Properties{
			"button": track3Button,
			"plan":   track3Plan,
			"items":  track3Items,
		},
	})
}

func (k cdpkitClient) Identify5() error {
	return k.enqueue(analytics.Identify{
		UserID: identifyUserID,
		Traits: analytics.Traits{
			"email":    identifyEmail,
			"name":     identifyName,
			"plan":     identifyPlan,
			"logins":   identifyLogins,
			"verified": identifyVerified,
		},
	})
}

func (k cdpkitClient) Close() error { return k.c.Close() }
