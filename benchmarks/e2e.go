package benchmarks

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

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

// SinkProcess is a sink in a process of its own: the running binary
// started again with -role sink, whose main calls ServeSink.
type SinkProcess struct {
	URL string // the sink's base URL

	cmd *exec.Cmd
	in  io.Closer
	out *bufio.Reader
}

// StartSinkProcess starts self -role sink and reads its URL.
func StartSinkProcess(self string) (*SinkProcess, error) {
	cmd := exec.Command(self, "-role", "sink")
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &SinkProcess{cmd: cmd, in: in, out: bufio.NewReader(out)}
	url, err := p.out.ReadString('\n')
	if err != nil {
		in.Close()
		_ = cmd.Wait()
		return nil, fmt.Errorf("sink: %w", err)
	}
	p.URL = strings.TrimSpace(url)
	return p, nil
}

// Stop ends the sink process and returns what it counted.
func (p *SinkProcess) Stop() (SinkStats, error) {
	p.in.Close()
	var st SinkStats
	err := json.NewDecoder(p.out).Decode(&st)
	_ = p.cmd.Wait()
	if err != nil {
		return st, fmt.Errorf("sink stats: %w", err)
	}
	return st, nil
}
