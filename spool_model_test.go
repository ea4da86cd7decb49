package analytics_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/cdpkit/analytics-go/internal/spool"
	"github.com/cdpkit/analytics-go/internal/spool/faultfs"
)

// The spool's model-based test, as storage engines are tested: a client
// with a spool on an in-memory file system (faultfs) and a fake API
// (analyticstest.Transport), in a synctest bubble, is driven by a seeded
// random sequence of operations: bursts of Enqueue, Flush, the API up,
// failing (503), holding every request, refusing the key (401) or chosen
// messages (400); the disk full or not; random I/O errors and short
// writes on every kind of file operation; time passing; the process
// killed (kill -9), the machine losing power (what was not fsynced is
// lost, in part, at random), a Shutdown cut short; and a restart after
// each. After every step it checks what the spool promises against a
// model of what was accepted:
//
//   - the Stats identities hold;
//   - the spool's files stay within WithSpoolMaxBytes;
//   - Flush returns (a Flush on a healthy API returns before its
//     deadline);
//   - no message Enqueue accepted is lost, except, after a power loss,
//     those accepted within the sync window before it;
//   - once every fault is cleared, Enqueue accepts again, and without
//     another restart everything is delivered but the messages the client
//     reported left for the next one (a read that failed after its
//     retries); the next client sends those, and no segment file is left.
//
// go test runs 4 seeds (2 with -race); ANALYTICS_SPOOL_MODEL_SEEDS=n runs
// seeds 1 to n (the long mode; .ci/run runs 40); ANALYTICS_SPOOL_MODEL_SEED=s
// runs seed s alone, to reproduce a failure: the sequence of operations
// and the faults come from the seed.

const (
	modelSeedsEnv = "ANALYTICS_SPOOL_MODEL_SEEDS"
	modelSeedEnv  = "ANALYTICS_SPOOL_MODEL_SEED"
	modelSteps    = 150
)

// modelTotals are the figures of a whole run, for RELIABILITY.md.
var modelTotals struct {
	seeds, ops, faults, kills, powerLosses, accepted, lost, wedges, duplicates atomic.Int64
}

func TestSpoolModel(t *testing.T) {
	t.Parallel()
	// A few seeds in the plain go test, fewer under the race detector;
	// .ci/run runs the long mode too.
	seeds := []uint64{1, 2, 3, 4}
	if analytics.RaceEnabled {
		seeds = seeds[:2]
	}
	if v := os.Getenv(modelSeedsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("%s=%q: %v", modelSeedsEnv, v, err)
		}
		seeds = seeds[:0]
		for i := range n {
			seeds = append(seeds, uint64(1+i))
		}
	}
	if v := os.Getenv(modelSeedEnv); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", modelSeedEnv, v, err)
		}
		seeds = []uint64{s}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := newModel(t, seed)
				m.run()
			})
		})
	}
	t.Logf("%d seeds, %d operations, %d faults injected, %d kills, %d power losses, %d messages accepted, %d lost beyond the sync window, %d wedges, %d duplicates",
		modelTotals.seeds.Load(), modelTotals.ops.Load(), modelTotals.faults.Load(), modelTotals.kills.Load(), modelTotals.powerLosses.Load(),
		modelTotals.accepted.Load(), modelTotals.lost.Load(), modelTotals.wedges.Load(), modelTotals.duplicates.Load())
}

// model is one seeded run.
type model struct {
	t    *testing.T
	seed uint64
	rng  *rand.Rand
	fs   *faultfs.FS
	dir  string
	cap  int64
	sync time.Duration

	c     *analytics.Client
	tr    *analyticstest.Transport
	fakes []*analyticstest.Transport // every incarnation's, for what arrived
	api   string                     // "up", "503", "hold", "401"
	hold  chan struct{}
	full  bool // the disk is full
	noisy bool // random I/O errors are injected

	// leftLost counts the messages the running client reported lost
	// for its run and left in the spool for the next client (a read that
	// failed with an I/O error after its retries).
	leftLost *atomic.Int64

	accepted   map[string]time.Time // ids Enqueue accepted, and when
	acceptedAt map[string]int       // the operation that accepted them
	excused    map[string]bool      // ids a power loss may have taken
	next       int
	ops        int
}

func newModel(t *testing.T, seed uint64) *model {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	m := &model{t: t, seed: seed, rng: rng, fs: faultfs.New(seed), dir: "/spool",
		cap: int64(1+rng.IntN(4)) << 20, accepted: map[string]time.Time{}, acceptedAt: map[string]int{}, excused: map[string]bool{}, api: "up"}
	// Even seeds fsync every message (a power loss may take nothing
	// accepted); odd ones every second, the default.
	if seed%2 == 1 {
		m.sync = analytics.DefaultSpoolSync
	}
	m.start()
	// A failed check ends the test at once: the client must not outlive
	// the bubble.
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = m.c.Shutdown(ctx)
	})
	return m
}

// logf records what the run does, shown if it fails.
func (m *model) logf(format string, args ...any) {
	m.t.Helper()
	m.t.Logf("seed %d op %d: %s", m.seed, m.ops, fmt.Sprintf(format, args...))
}

// start opens a client on the spool, with random I/O errors held off: a
// New that fails on one (its lock file, its directory) is no failure of
// the spool's promise, while a full disk must not stop it.
func (m *model) start() {
	m.t.Helper()
	m.fs.SetFault(nil)
	m.tr = analyticstest.NewTransport(m.t, analyticstest.WithAPIKey(spoolKey), analyticstest.WithViolationsAllowed(),
		analyticstest.WithMessageRule(func(msg analyticstest.Message) error {
			if strings.HasSuffix(msg.MessageID, "-bad") {
				return errors.New("refused by the model")
			}
			return nil
		}))
	m.fakes = append(m.fakes, m.tr)
	m.setAPI(m.api)
	left := new(atomic.Int64)
	m.leftLost = left
	c, err := analytics.New(spoolKey, analytics.WithHTTPClient(m.tr.Client()), analytics.WithEndpoint(m.tr.URL),
		analytics.WithCallback(func(r analytics.Result) {
			if errors.Is(r.Err, analytics.ErrSpoolUnreadable) {
				left.Add(1)
			}
		}),
		analytics.WithLogger(quietLogger()), analytics.WithSpool(m.dir), analytics.WithSpoolFS(m.fs.Mount()),
		analytics.WithSpoolSync(m.sync), analytics.WithSpoolMaxBytes(m.cap),
		analytics.WithQueueCapacity(20+m.rng.IntN(200)), analytics.WithBatchSize(10+m.rng.IntN(100)),
		analytics.WithFlushInterval(100*time.Millisecond), analytics.WithMaxAttempts(3),
		analytics.WithRetryWait(10*time.Millisecond, 50*time.Millisecond), analytics.WithMaxRetryTime(2*time.Second),
		analytics.WithRequestTimeout(5*time.Second), analytics.WithShutdownTimeout(10*time.Second))
	if err != nil {
		m.t.Fatalf("seed %d: New: %v (disk full: %v)\n%s", m.seed, err, m.full, m.fs)
	}
	m.c = c
	if sum, err := spool.Inspect(m.dir, m.fs, nil); err == nil {
		m.logf("started: %d recovered; on disk %d records in %v; Stats %+v", c.Stats().SpoolRecovered, sum.Records, sum.Segments, c.Stats())
	}
	m.setNoise(m.noisy)
}

func (m *model) setAPI(mode string) {
	m.api = mode
	m.logf("API %s", mode)
	if m.hold != nil && mode != "hold" {
		close(m.hold)
		m.hold = nil
	}
	switch mode {
	case "up":
		m.tr.SetDefault(analyticstest.Response{})
	case "503":
		m.tr.SetDefault(analyticstest.Response{Status: 503})
	case "401":
		m.tr.SetDefault(analyticstest.Response{Status: 401})
	case "hold":
		if m.hold == nil {
			m.hold = make(chan struct{})
		}
		m.tr.SetDefault(analyticstest.Response{Hold: m.hold})
	}
}

// setNoise turns random I/O errors and short writes on or off: one
// operation in 20 fails.
func (m *model) setNoise(on bool) {
	m.noisy = on
	if !on {
		m.fs.SetFault(nil)
		return
	}
	frng := rand.New(rand.NewPCG(m.seed, uint64(m.ops)))
	m.fs.SetFault(func(op faultfs.Op, path string) error {
		if strings.HasSuffix(path, "LOCK") || (op == faultfs.OpSync && m.sync > 0) {
			// With a sync interval a failed fsync is only logged: what it
			// covered is not durable, which the model cannot tell.
			return nil
		}
		if frng.IntN(20) == 0 {
			if frng.IntN(2) == 0 {
				return faultfs.ErrIO
			}
			return faultfs.ErrNoSpace
		}
		return nil
	})
}

// modelOps are the operations of a run, with their weights. With
// ANALYTICS_SPOOL_MODEL_OPS (names, comma-separated) a run is limited to
// some of them, to narrow a failure down.
var modelOps = []struct {
	name   string
	weight int
	do     func(m *model)
}{
	{"enqueue", 35, func(m *model) { m.enqueue(1 + m.rng.IntN(60)) }},
	{"flush", 10, (*model).flush},
	{"api", 10, func(m *model) { m.setAPI([]string{"up", "up", "503", "hold", "401"}[m.rng.IntN(5)]) }},
	{"full", 8, func(m *model) { m.setFull(!m.full) }},
	{"noise", 6, func(m *model) { m.setNoise(!m.noisy) }},
	{"sleep", 11, func(m *model) { time.Sleep(time.Duration(m.rng.IntN(3000)) * time.Millisecond) }},
	{"kill", 5, func(m *model) { m.kill(false) }},
	{"powerloss", 4, func(m *model) { m.kill(true) }},
	{"shutdown", 4, (*model).shutdownShort},
	{"disk", 7, (*model).checkDisk},
}

func (m *model) run() {
	only := os.Getenv("ANALYTICS_SPOOL_MODEL_OPS")
	total := 0
	for _, op := range modelOps {
		total += op.weight
	}
	for m.ops = 0; m.ops < modelSteps; m.ops++ {
		n := m.rng.IntN(total)
		for _, op := range modelOps {
			if n -= op.weight; n < 0 {
				if only == "" || strings.Contains(","+only+",", ","+op.name+",") {
					m.logf("%s", op.name)
					op.do(m)
				}
				break
			}
		}
		m.checkStats()
	}
	m.heal()
}

// enqueue enqueues n messages; some are of the kind the API refuses.
func (m *model) enqueue(n int) {
	for range n {
		id := fmt.Sprintf("m%05d", m.next)
		if m.rng.IntN(40) == 0 {
			id += "-bad"
		}
		m.next++
		msg := analytics.Track{UserID: "u", Event: "Modelled", MessageID: id,
			Properties: analytics.Properties{"pad": strings.Repeat("p", m.rng.IntN(2000))}}
		err := m.c.Enqueue(msg)
		switch {
		case err == nil:
			m.accepted[id] = time.Now()
			m.acceptedAt[id] = m.ops
		case errors.Is(err, analytics.ErrQueueFull), m.full || m.noisy:
			// At the cap, or the disk refused the write: not accepted.
			// (That the cap counts live messages only is checked when
			// the faults clear: no segment without one is left.)
		default:
			m.t.Fatalf("seed %d op %d: Enqueue with no fault injected: %v", m.seed, m.ops, err)
		}
	}
}

// flush flushes with a deadline; with a healthy API and disk it must
// finish before it.
func (m *model) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := m.c.Flush(ctx)
	if errors.Is(err, context.DeadlineExceeded) && m.api == "up" && !m.full && !m.noisy {
		modelTotals.wedges.Add(1)
		m.t.Errorf("seed %d op %d: Flush on a healthy API and disk did not return within a minute; Stats %+v", m.seed, m.ops, m.c.Stats())
	}
}

func (m *model) setFull(full bool) {
	m.full = full
	if full {
		m.fs.SetCapacity(m.fs.Total() + int64(m.rng.IntN(4096)))
	} else {
		m.fs.SetCapacity(0)
	}
}

// kill ends the client as a crash would: the process only (its writes
// stay), or with a power loss (what was not fsynced is lost in part). A
// power loss may take the messages accepted within the sync window.
func (m *model) kill(powerLoss bool) {
	old, oldTr := m.c, m.tr
	m.logf("kill (power loss %v); Stats before %+v", powerLoss, old.Stats())
	if powerLoss {
		modelTotals.powerLosses.Add(1)
		now := time.Now()
		for id, at := range m.accepted {
			if m.sync > 0 && !at.Before(now.Add(-m.sync)) {
				m.excused[id] = true
			}
		}
		m.fs.Crash()
	} else {
		modelTotals.kills.Add(1)
		m.fs.Kill()
	}
	// The dead process's goroutines must not reach the API or the disk:
	// its fake is closed, its files fail.
	oldTr.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = old.Shutdown(ctx)
	m.start()
}

// shutdownShort closes the client with a deadline that may cut it short,
// and starts another: what was not sent stays for it.
func (m *model) shutdownShort() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(m.rng.IntN(2000))*time.Millisecond)
	defer cancel()
	_ = m.c.Shutdown(ctx)
	m.tr.Close()
	m.start()
}

func (m *model) checkStats() {
	m.t.Helper()
	st := m.c.Stats()
	if st.Enqueued+st.SpoolRecovered != st.Delivered+st.Failed+st.Queued+st.InFlight+st.SpoolPending ||
		st.Failed != st.FailedStatus+st.FailedRetries+st.FailedShutdown+st.FailedSpool {
		m.t.Fatalf("seed %d op %d: Stats do not add up: %+v", m.seed, m.ops, st)
	}
	if st.SpoolBytes > m.cap {
		m.t.Fatalf("seed %d op %d: SpoolBytes %d over the cap %d", m.seed, m.ops, st.SpoolBytes, m.cap)
	}
}

// checkDisk checks that the spool's files are within the cap.
func (m *model) checkDisk() {
	m.t.Helper()
	if used := m.fs.Used(m.dir, "*.seg") + m.fs.Used(m.dir, "*.ack"); used > m.cap {
		m.t.Fatalf("seed %d op %d: the spool's files hold %d bytes, over the cap %d\n%s", m.seed, m.ops, used, m.cap, m.fs)
	}
}

// heal clears every fault, and checks that the client recovers without a
// restart: Enqueue accepts, a Flush delivers everything, nothing accepted
// is lost, and no segment file is left.
func (m *model) heal() {
	m.setNoise(false)
	m.setFull(false)
	m.setAPI("up")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := m.c.EnqueueContext(ctx, analytics.Track{UserID: "u", Event: "Healed", MessageID: "healed"}); err != nil {
		modelTotals.wedges.Add(1)
		m.t.Fatalf("seed %d: Enqueue once every fault cleared: %v", m.seed, err)
	}
	m.accepted["healed"] = time.Now()
	err := m.c.Flush(ctx)
	m.logf("heal: Flush %v; Stats %+v", err, m.c.Stats())
	if errors.Is(err, context.DeadlineExceeded) {
		modelTotals.wedges.Add(1)
		m.t.Fatalf("seed %d: Flush once every fault cleared did not return in 10 minutes: %v", m.seed, m.c.Stats())
	}
	if err := m.c.Close(); err != nil && !refusedContent(err) && !errors.Is(err, analytics.ErrSpoolLost) {
		m.t.Errorf("seed %d: Close once every fault cleared: %v", m.seed, err)
	}
	m.checkStats()
	// Without a restart, this client sent everything but what it
	// reported left for the next client: messages it failed to read.
	if sum, err := spool.Inspect(m.dir, m.fs, nil); err != nil {
		m.t.Fatalf("seed %d: Inspect: %v", m.seed, err)
	} else if int64(sum.Records) != m.leftLost.Load() {
		m.t.Errorf("seed %d: Close once every fault cleared left %d messages in the spool; it reported %d left for the next client",
			m.seed, sum.Records, m.leftLost.Load())
	}
	{
		// What this client left for the next one: the next one sends it.
		m.start()
		// Its Flush may report messages the API refuses (400).
		if err := m.c.Flush(ctx); errors.Is(err, context.DeadlineExceeded) {
			m.t.Errorf("seed %d: Flush of the next client: %v", m.seed, err)
		}
		if err := m.c.Close(); err != nil && !refusedContent(err) {
			m.t.Errorf("seed %d: Close of the next client: %v", m.seed, err)
		}
	}
	arrived := map[string]int{}
	for _, tr := range m.fakes {
		for _, msg := range tr.Messages() {
			arrived[msg.MessageID]++
		}
	}
	lost := 0
	for id := range m.accepted {
		if arrived[id] == 0 && !strings.HasSuffix(id, "-bad") && !m.excused[id] {
			lost++
			if lost <= 5 {
				m.t.Errorf("seed %d: %s was accepted by Enqueue (op %d) and never arrived", m.seed, id, m.acceptedAt[id])
			}
		}
	}
	dup := 0
	for _, n := range arrived {
		dup += max(n-1, 0)
	}
	sum, err := spool.Inspect(m.dir, m.fs, nil)
	if err != nil {
		m.t.Fatalf("seed %d: Inspect: %v", m.seed, err)
	}
	if len(sum.Segments) != 0 || sum.Records != 0 {
		m.t.Errorf("seed %d: after everything was delivered the spool still holds %d records in %+v", m.seed, sum.Records, sum.Segments)
	}
	faults := 0
	for _, n := range m.fs.Faults() {
		faults += n
	}
	modelTotals.seeds.Add(1)
	modelTotals.ops.Add(int64(m.ops))
	modelTotals.faults.Add(int64(faults))
	modelTotals.accepted.Add(int64(len(m.accepted)))
	modelTotals.lost.Add(int64(lost))
	modelTotals.duplicates.Add(int64(dup))
}

// refusedContent reports whether err reports messages the API refused as
// invalid (400), the model's "-bad" messages.
func refusedContent(err error) bool {
	var apiErr *analytics.APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == 400
}
