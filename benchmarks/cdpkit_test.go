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
	c, err := analytics.New(apiKey,
		analytics.WithEndpoint(cfg.endpoint), // posts to <endpoint>/v1/batch
		analytics.WithBatchSize(batchSize),
		analytics.WithFlushInterval(flushInterval),
		analytics.WithHTTPClient(&http.Client{Transport: cfg.transport}),
		analytics.WithLogger(slog.New(slog.DiscardHandler)),
		analytics.WithGzip(cfg.gzip),
	)
	if err != nil {
		return nil, err
	}
	return cdpkitClient{c: c, wait: cfg.wait}, nil
}

// TrackOrder sends the typed helper, as a user of this library would: the
// competitors have no typed spec events, so they send a map-based track.
func (k cdpkitClient) TrackOrder() error {
	products := make([]analytics.Product, len(order.Products))
	for i, p := range order.Products {
		products[i] = analytics.Product{
			ProductID: p.ProductID,
			SKU:       p.SKU,
			Name:      p.Name,
			Price:     analytics.Float64(p.Price),
			Quantity:  analytics.Int(p.Quantity),
		}
	}
	return k.enqueue(analytics.OrderCompleted{
		UserID:   order.UserID,
		OrderID:  order.OrderID,
		Total:    analytics.Float64(order.Total),
		Revenue:  analytics.Float64(order.Revenue),
		Currency: order.Currency,
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
