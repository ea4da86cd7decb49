package otelanalytics

import (
	"context"
	"errors"
	"fmt"

	analytics "github.com/cdpkit/analytics-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the instrumentation scope of the meter that holds the
// instruments: this package's import path.
const ScopeName = "github.com/cdpkit/analytics-go/otelanalytics"

// The attribute keys this package sets on cdp.client.messages.
const (
	// OutcomeKey says what became of the messages a series counts:
	// enqueued, delivered, failed, dropped, rejected or filtered.
	OutcomeKey = attribute.Key("cdp.outcome")
	// ReasonKey says why messages failed (status, retries, shutdown,
	// spool) or were rejected (invalid, too_large, transform).
	ReasonKey = attribute.Key("cdp.reason")
)

// series is one reported value: an instrument, its attributes, and the
// Stats field it reads.
type series struct {
	inst  metric.Int64Observable
	opts  []metric.ObserveOption // the series' attribute set, built once
	value func(*analytics.Stats) int64
}

// Observe registers instruments that report c.Stats() at each collection
// of the meter provider's readers (see the package documentation for the
// list), and returns their registration: its Unregister stops the
// reporting. The client stays the caller's to close; a closed client goes
// on reporting its final counts until Unregister.
//
// Observe returns an error if c is nil, if an attribute given with
// WithAttributes is invalid or uses a key of this package, or if the
// meter refuses an instrument or the callback.
func Observe(c *analytics.Client, opts ...Option) (metric.Registration, error) {
	if c == nil {
		return nil, errors.New("otelanalytics: Observe: client is nil")
	}
	cfg := newConfig(opts)
	for i, kv := range cfg.attrs {
		switch {
		case !kv.Valid():
			return nil, fmt.Errorf("otelanalytics: WithAttributes: attribute %d (key %q) is invalid", i, kv.Key)
		case kv.Key == OutcomeKey || kv.Key == ReasonKey:
			return nil, fmt.Errorf("otelanalytics: WithAttributes: key %q is reserved by otelanalytics", kv.Key)
		}
	}

	meter := cfg.provider.Meter(ScopeName, metric.WithInstrumentationVersion(analytics.Version))
	var errs []error
	counter := func(name, unit, desc string) metric.Int64ObservableCounter {
		inst, err := meter.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return inst
	}
	gauge := func(name, unit, desc string) metric.Int64ObservableGauge {
		inst, err := meter.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return inst
	}
	messages := counter("cdp.client.messages", "{message}",
		"Messages by outcome: enqueued by the client; then delivered or failed; or refused by Enqueue, dropped (queue full) or rejected; or filtered out on purpose by a transform.")
	requests := counter("cdp.client.requests", "{request}",
		"HTTP requests sent to the Data Pipelines API, retries included.")
	retries := counter("cdp.client.retries", "{request}",
		"HTTP requests that retried a batch after its first attempt.")
	sent := counter("cdp.client.sent", "By",
		"Request body bytes sent to the Data Pipelines API over all attempts, after compression.")
	queueMessages := gauge("cdp.client.queue.messages", "{message}",
		"Messages waiting in the client's queue.")
	queueBytes := gauge("cdp.client.queue.bytes", "By",
		"Encoded size of the messages waiting in the client's queue.")
	inflight := gauge("cdp.client.inflight.messages", "{message}",
		"Messages in batches being sent.")
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("otelanalytics: Observe: %w", err)
	}

	attrs := func(extra ...attribute.KeyValue) []metric.ObserveOption {
		kvs := append(append([]attribute.KeyValue(nil), cfg.attrs...), extra...)
		return []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(kvs...))}
	}
	outcome := func(o string, reason ...string) []metric.ObserveOption {
		kvs := []attribute.KeyValue{OutcomeKey.String(o)}
		if len(reason) > 0 {
			kvs = append(kvs, ReasonKey.String(reason[0]))
		}
		return attrs(kvs...)
	}
	all := attrs()
	table := []series{
		{messages, outcome("enqueued"), func(s *analytics.Stats) int64 { return s.Enqueued }},
		{messages, outcome("delivered"), func(s *analytics.Stats) int64 { return s.Delivered }},
		{messages, outcome("failed", "status"), func(s *analytics.Stats) int64 { return s.FailedStatus }},
		{messages, outcome("failed", "retries"), func(s *analytics.Stats) int64 { return s.FailedRetries }},
		{messages, outcome("failed", "shutdown"), func(s *analytics.Stats) int64 { return s.FailedShutdown }},
		{messages, outcome("failed", "spool"), func(s *analytics.Stats) int64 { return s.FailedSpool }},
		{messages, outcome("dropped"), func(s *analytics.Stats) int64 { return s.DroppedQueueFull }},
		{messages, outcome("rejected", "invalid"), func(s *analytics.Stats) int64 { return s.RejectedInvalid }},
		{messages, outcome("rejected", "too_large"), func(s *analytics.Stats) int64 { return s.RejectedTooLarge }},
		{messages, outcome("rejected", "transform"), func(s *analytics.Stats) int64 { return s.RejectedByTransform }},
		{messages, outcome("filtered"), func(s *analytics.Stats) int64 { return s.DroppedByTransform }},
		{requests, all, func(s *analytics.Stats) int64 { return s.Requests }},
		{retries, all, func(s *analytics.Stats) int64 { return s.Retries }},
		{sent, all, func(s *analytics.Stats) int64 { return s.BytesSent }},
		{queueMessages, all, func(s *analytics.Stats) int64 { return s.Queued }},
		{queueBytes, all, func(s *analytics.Stats) int64 { return s.QueuedBytes }},
		{inflight, all, func(s *analytics.Stats) int64 { return s.InFlight }},
	}

	// The callback runs on the goroutine of whoever collects (a reader's
	// own goroutine or the caller of ManualReader.Collect); it reads the
	// client's atomic counters once and keeps no state.
	callback := func(_ context.Context, o metric.Observer) error {
		st := c.Stats()
		for i := range table {
			o.ObserveInt64(table[i].inst, table[i].value(&st), table[i].opts...)
		}
		return nil
	}
	reg, err := meter.RegisterCallback(callback,
		messages, requests, retries, sent, queueMessages, queueBytes, inflight)
	if err != nil {
		return nil, fmt.Errorf("otelanalytics: Observe: %w", err)
	}
	return reg, nil
}
