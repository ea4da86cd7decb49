package benchmarks

// The entry points of the out-of-process run (cmd/e2e), which needs the
// clients and the sink outside a test binary.

// Client is one client under comparison; see the sdks table.
type Client = benchClient

// Sink is the counting server; see sink.
type Sink = sink

// SinkStats are a sink's counters.
type SinkStats = sinkStats

// ClientNames lists the clients in table order: the map-based ones, and
// with typed set the typed-helper rows too (which differ only in Order
// Completed).
func ClientNames(typed bool) []string {
	var names []string
	for _, s := range sdks {
		if typed || !s.typed {
			names = append(names, s.name)
		}
	}
	return names
}

// NewClient returns the client named name sending to the sink at
// endpoint, with the settings every benchmark uses but the batch size
// (0: the benchmarks' 250) and cdpkit's queue capacity (0: its default).
// cdpkit waits for room rather than reject.
func NewClient(name, endpoint string, batch, queue int) (Client, error) {
	s, ok := lookupSDK(name)
	if !ok {
		return nil, errUnknownClient(name)
	}
	return s.new(clientConfig{endpoint: endpoint, transport: newTransport(), wait: true, batchSize: batch, queueCapacity: queue})
}

// Order is the Order Completed event of the benchmarks (2 products).
func Order() *orderCompleted { return &order }

type errUnknownClient string

func (e errUnknownClient) Error() string { return "unknown client " + string(e) }

// StartSink starts a sink on a loopback port.
func StartSink() *Sink { return newSink() }
