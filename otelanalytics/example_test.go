package otelanalytics_test

import (
	"context"
	"fmt"
	"log"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/cdpkit/analytics-go/otelanalytics"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Observe a client through a MeterProvider. A program would give the
// provider an exporter (OTLP, Prometheus); here a ManualReader collects
// once and the example prints the message counts.
func ExampleObserve() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	fake := analyticstest.NewTransport(nil) // a fake Data Pipelines API
	defer fake.Close()
	client, err := analytics.New("example-key",
		analytics.WithEndpoint(fake.URL), analytics.WithHTTPClient(fake.Client()))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	reg, err := otelanalytics.Observe(client,
		otelanalytics.WithMeterProvider(mp),
		otelanalytics.WithAttributes(attribute.String("source", "checkout")))
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Unregister()

	_ = client.Enqueue(analytics.Track{UserID: "42", Event: "Order Completed"})
	_ = client.Enqueue(analytics.Track{UserID: "43", Event: "Order Completed"})
	_ = client.Enqueue(analytics.Track{UserID: "44"}) // invalid: no event name
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Flush(ctx); err != nil {
		log.Fatal(err)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		log.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "cdp.client.messages" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				if dp.Value == 0 {
					continue
				}
				outcome, _ := dp.Attributes.Value(otelanalytics.OutcomeKey)
				reason, _ := dp.Attributes.Value(otelanalytics.ReasonKey)
				source, _ := dp.Attributes.Value("source")
				fmt.Printf("%s %s outcome=%s reason=%q source=%s: %d\n",
					m.Name, m.Unit, outcome.AsString(), reason.AsString(), source.AsString(), dp.Value)
			}
		}
	}
	// Unordered output:
	// cdp.client.messages {message} outcome=enqueued reason="" source=checkout: 2
	// cdp.client.messages {message} outcome=delivered reason="" source=checkout: 2
	// cdp.client.messages {message} outcome=rejected reason="invalid" source=checkout: 1
}
