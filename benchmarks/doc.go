// Package benchmarks compares github.com/cdpkit/analytics-go with the Go
// clients it competes with: Segment's analytics-go v3 (the engine of
// Customer.io's own Go SDK) and posthog-go. It is a separate module so that
// users of the library never download the competitors.
//
// Everything lives in _test.go files; run it from this directory:
//
//	go test -run '^$' -bench . -benchmem
//	go test -run '^$' -bench BurstMemory -benchtime=1x -burst=1000000
//
// Every client sends to a loopback sink server (sink_test.go) that reads and
// discards bodies and counts requests, events, JSON bytes and wire bytes. All
// clients get the same settings, written once in sdk_test.go: batch size 250,
// flush interval 5s, silent logger, one fresh *http.Transport per run.
//
// Benchmarks, each with one sub-benchmark per client (cdpkit, this
// repository's library; segment; posthog):
//
//   - BenchmarkE2EOrderCompleted, BenchmarkE2ETrack3Props,
//     BenchmarkE2EIdentify5Traits: b.N events from one goroutine, Close
//     included in the timed region; one op is one event, so ns/op, B/op and
//     allocs/op are per event. The run fails unless the sink counted exactly
//     b.N events. Extra metrics: wire-B/event (request body bytes as sent)
//     and json-B/event (after decompression). B/op includes the sink's own
//     per-request allocations (net/http), amortised over a batch of 250.
//     cdpkit sends Order Completed as its typed helper
//     analytics.OrderCompleted (the others have none and send a map-based
//     track), and calls EnqueueContext, which waits for room in a full
//     queue as both competitors' Enqueue does; its plain Enqueue would
//     reject the event instead (see the Enqueue benchmarks).
//   - BenchmarkE2EOrderCompletedGzip: the same with request compression;
//     skipped for clients that cannot compress (both competitors).
//   - BenchmarkEnqueue1Producer, BenchmarkEnqueue8Producers: the caller's
//     cost of Enqueue against a stalled sink (requests are held until the
//     timed region ends). p50-ns and p99-ns are per-call latencies from every
//     8th call; rejected-% is the share of calls that returned an error,
//     delivered-% the share of accepted events the sink counted once it was
//     released and the client closed (over 100: duplicates from retries).
//   - BenchmarkBurstMemory: a burst of -burst events (default 1,000,000;
//     10,000 under -short or when the CI environment variable is set) into a
//     stalled sink; one op is one burst. peak-heap-MB is the peak of live and
//     unswept heap objects sampled during the burst, live-heap-MB the heap
//     after a GC at the end of the burst (what the client holds), both above
//     the baseline before the burst; rejected-% and delivered-% as above
//     (the sink is released and given time to receive everything before
//     Close, since both competitors drop batches awaiting a retry on Close).
//   - BenchmarkJSONFloorOrderCompleted: the Order Completed message appended
//     by hand into a reused buffer; the floor a client can approach.
package benchmarks
