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
// Every client sends to a loopback sink server (sink.go) that reads and
// discards bodies, counts requests, events, JSON bytes, wire bytes and
// connections, and answers 200 with an empty body (so that clients that
// close an answer unread keep their connections). All clients get the same
// settings, written once in sdk.go: batch size 250, flush interval 5s,
// silent logger, one fresh *http.Transport per run.
//
// Benchmarks, each with one sub-benchmark per client: cdpkit (this
// repository's library, with maps as the others), cdpkit-typed (its typed
// helper, in the Order Completed benchmarks only), segment, posthog, floor
// (leanfloor.go: the lean floor, the cheapest correct client this harness
// can write, against which every ratio is taken) and oldfloor (floor.go:
// the floor before issue 22, kept to measure the distance):
//
//   - BenchmarkE2EOrderCompleted, BenchmarkE2ETrack3Props,
//     BenchmarkE2EIdentify5Traits: b.N events from one goroutine, Close
//     included in the timed region; one op is one event, so ns/op, B/op and
//     allocs/op are per event. The run fails unless the sink counted exactly
//     b.N events. Extra metrics: wire-B/event (request body bytes as sent)
//     and json-B/event (after decompression). B/op includes the sink's own
//     per-request allocations (net/http), amortised over a batch of 250;
//     conns is the connections the sink accepted. cdpkit calls
//     EnqueueContext, which waits for room in a full queue as both
//     competitors' Enqueue does; its plain Enqueue would reject the event
//     instead (see the Enqueue benchmarks).
//   - BenchmarkE2EOrderCompletedVaried: 4,096 different orders
//     (variedOrders), uncompressed; BenchmarkE2EOrderCompletedGzip: the same
//     with request compression, skipped for clients that cannot compress.
//   - BenchmarkEnqueue1Producer, BenchmarkEnqueue8Producers: the caller's
//     cost of Enqueue against a sink that answers. p50-ns and p99-ns are
//     latencies of accepted calls, from every 8th call; rejected-% is the
//     share of calls that returned an error,
//     delivered-% the share of accepted events the sink counted once it was
//     released and the client closed (over 100: duplicates from retries).
//   - BenchmarkBurstMemory: a burst of -burst events (default 1,000,000;
//     10,000 under -short or when the CI environment variable is set) into a
//     stalled sink; one op is one burst; ns/accepted is the mean time of the
//     accepted calls (each timed). Both floors have no queue and are
//     skipped. peak-heap-MB is the peak of live and
//     unswept heap objects sampled during the burst, live-heap-MB the heap
//     after a GC at the end of the burst (what the client holds), both above
//     the baseline before the burst; rejected-% and delivered-% as above
//     (the sink is released and given time to receive everything before
//     Close, since both competitors drop batches awaiting a retry on Close).
//   - BenchmarkJSONFloorOrderCompleted: the Order Completed message appended
//     by hand into a reused buffer; the floor a client can approach.
//   - BenchmarkTail8Producers (goals_bench_test.go, tail.go): 8 producers
//     calling cdpkit's Enqueue, Segment's and the lean floor's, paced at
//     50,000 calls a second in all or unthrottled; p50-ns, p99-ns and
//     p999-ns of the accepted calls, each timed, and refused-%.
//   - BenchmarkQueueEnqueue, BenchmarkQueueE2E (queuemode.go): cdpkit's
//     Enqueue against a server that never answers, and its whole path to
//     the sink, with the memory queue, WithSpool and WithSpoolSync(0), from
//     1, 4 and 8 producers.
//   - BenchmarkStartup: New, 1,000 Track events and Close.
//
// cmd/scorecard runs the goals of issue 22 out of process, in rotated
// rounds, and prints them as ratios to the lean floor; cmd/e2e and
// cmd/importbench are the other out-of-process runs.
package benchmarks
