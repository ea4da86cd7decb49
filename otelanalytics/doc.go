// Package otelanalytics exports the counters of an analytics.Client
// (github.com/cdpkit/analytics-go) as OpenTelemetry metrics.
//
// It lives in its own module so that the client library itself depends on
// no part of OpenTelemetry: only programs that import this package do.
//
//	client, err := analytics.New(apiKey)
//	...
//	reg, err := otelanalytics.Observe(client,
//		otelanalytics.WithAttributes(attribute.String("source", "checkout")))
//	if err != nil {
//		return err
//	}
//	defer reg.Unregister()
//
// Observe registers asynchronous instruments and one callback with a meter
// of the chosen MeterProvider (the global one unless WithMeterProvider says
// otherwise). The callback calls Client.Stats once per collection and
// reports every instrument from that one snapshot, so the values of a
// collection are consistent with each other as far as Stats is. Nothing
// runs between collections: the package starts no goroutine and keeps no
// state but the registration. Unregister ends the reporting; it does not
// close the client.
//
// # Instruments
//
// The counters are cumulative and monotonic; they count since the client
// was created.
//
//	cdp.client.messages            counter  {message}  by cdp.outcome (and cdp.reason)
//	cdp.client.requests            counter  {request}  HTTP attempts, retries included (Stats.Requests)
//	cdp.client.retries             counter  {request}  HTTP attempts after the first of a batch (Stats.Retries)
//	cdp.client.sent                counter  By         request body bytes after gzip (Stats.BytesSent)
//	cdp.client.queue.messages      gauge    {message}  messages waiting in the queue (Stats.Queued)
//	cdp.client.queue.bytes         gauge    By         size of the messages waiting (Stats.QueuedBytes)
//	cdp.client.inflight.messages   gauge    {message}  messages in batches being sent (Stats.InFlight)
//
// cdp.client.messages has one series per outcome:
//
//	cdp.outcome=enqueued                       Stats.Enqueued
//	cdp.outcome=delivered                      Stats.Delivered
//	cdp.outcome=failed    cdp.reason=status    Stats.FailedStatus
//	cdp.outcome=failed    cdp.reason=retries   Stats.FailedRetries
//	cdp.outcome=failed    cdp.reason=shutdown  Stats.FailedShutdown
//	cdp.outcome=failed    cdp.reason=spool     Stats.FailedSpool
//	cdp.outcome=dropped                        Stats.DroppedQueueFull
//	cdp.outcome=rejected  cdp.reason=invalid   Stats.RejectedInvalid
//	cdp.outcome=rejected  cdp.reason=too_large Stats.RejectedTooLarge
//	cdp.outcome=rejected  cdp.reason=transform Stats.RejectedByTransform
//	cdp.outcome=filtered                       Stats.DroppedByTransform
//
// "enqueued" counts the messages the client accepted; "delivered" and
// "failed" are what became of them, so do not add up all outcomes.
// "dropped" and "rejected" count messages Enqueue refused, which were never
// enqueued: "rejected" with the reason "transform" those a transform
// panicked on (analytics.WithTransform). "filtered" counts the messages a
// transform dropped on purpose (a sampler, a filter): never enqueued, and
// not a loss, so an alert on lost messages leaves it out. The sum of the
// failed series is Stats.Failed.
//
// # Attributes
//
// Every series carries the attributes given with WithAttributes, such as
// the name of the source the client writes to. Nothing this package adds
// identifies the client, and the API key is never an attribute. Two
// clients observed through the same MeterProvider must therefore be told
// apart by their attributes; otherwise their callbacks observe the same
// series twice, which OpenTelemetry leaves undefined.
package otelanalytics
