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
	return NewClientWith(name, endpoint, ClientOptions{Batch: batch, Queue: queue})
}

// ClientOptions are the settings of NewClientWith that differ between
// runs; everything else is what every benchmark uses (sdk.go).
type ClientOptions struct {
	Batch int // messages per request; 0 is the benchmarks' 250
	Queue int // cdpkit's queue capacity; 0 is its default
	// Refuse: when the client's queue is full, a call refuses its event
	// at once (cdpkit's Enqueue, the lean floor) rather than wait for
	// room (cdpkit's EnqueueContext). Segment and PostHog always wait.
	Refuse bool
}

// NewClientWith returns the client named name sending to the sink at
// endpoint, with o.
func NewClientWith(name, endpoint string, o ClientOptions) (Client, error) {
	s, ok := lookupSDK(name)
	if !ok {
		return nil, errUnknownClient(name)
	}
	return s.new(clientConfig{endpoint: endpoint, transport: newTransport(), wait: !o.Refuse, batchSize: o.Batch, queueCapacity: o.Queue})
}

// Order is the Order Completed event of the benchmarks (2 products).
func Order() *orderCompleted { return &order }

type errUnknownClient string

func (e errUnknownClient) Error() string { return "unknown client " + string(e) }

// StartSink starts a sink on a loopback port.
func StartSink() *Sink { return newSink() }
