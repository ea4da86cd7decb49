package otelanalytics

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// An Option configures Observe.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is what the options of one Observe call set.
type config struct {
	provider metric.MeterProvider
	attrs    []attribute.KeyValue
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.provider == nil {
		c.provider = otel.GetMeterProvider()
	}
	return c
}

// WithMeterProvider sets the MeterProvider whose meter holds the
// instruments. Without it, or with a nil provider, Observe uses the global
// provider (otel.GetMeterProvider), as OpenTelemetry's instrumentation
// libraries do.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.provider = mp })
}

// WithAttributes adds attributes to every series Observe reports, for
// example the service or the source the client writes to. Several
// WithAttributes options add up; for a key given twice the last value
// wins. The keys cdp.outcome and cdp.reason are this package's own, and
// Observe returns an error for an invalid attribute (an empty key).
func WithAttributes(attrs ...attribute.KeyValue) Option {
	attrs = append([]attribute.KeyValue(nil), attrs...)
	return optionFunc(func(c *config) { c.attrs = append(c.attrs, attrs...) })
}
