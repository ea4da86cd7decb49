package otelanalytics_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

const testKey = "secret-test-key-0123456789"

// gate sits in front of a fake API. While held, requests wait (until they
// are released or their context ends) before the fake answers them, so a
// test can stall the client's pipeline at a point of its choosing.
type gate struct {
	next http.RoundTripper

	mu   sync.Mutex    // guards wait
	wait chan struct{} // nil when open; closed by release
}

func (g *gate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.wait == nil {
		g.wait = make(chan struct{})
	}
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.wait != nil {
		close(g.wait)
		g.wait = nil
	}
}

func (g *gate) RoundTrip(r *http.Request) (*http.Response, error) {
	g.mu.Lock()
	wait := g.wait
	g.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-r.Context().Done():
			if r.Body != nil {
				_ = r.Body.Close()
			}
			return nil, r.Context().Err()
		}
	}
	return g.next.RoundTrip(r)
}

// fixture is a client talking to a fake API through a gate.
type fixture struct {
	fake   *analyticstest.Transport
	gate   *gate
	client *analytics.Client
}

func newFixture(t *testing.T, opts ...analytics.Option) *fixture {
	t.Helper()
	fake := analyticstest.NewTransport(t, analyticstest.WithAPIKey(testKey))
	g := &gate{next: fake}
	opts = append([]analytics.Option{
		analytics.WithEndpoint(fake.URL),
		analytics.WithHTTPClient(&http.Client{Transport: g}),
		analytics.WithRetry(analytics.RetryPolicy{WaitMin: time.Millisecond, WaitMax: 5 * time.Millisecond}),
	}, opts...)
	c, err := analytics.New(testKey, opts...)
	require.NoError(t, err)
	t.Cleanup(func() {
		g.release()
		_ = c.Close()
	})
	return &fixture{fake: fake, gate: g, client: c}
}

func timeout(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func track(user string) analytics.Track {
	return analytics.Track{UserID: user, Event: "Order Completed", Properties: analytics.Properties{"total": 42}}
}

// point is one exported data point, flattened for comparison.
type point struct {
	kind  string // "sum" (monotonic, cumulative) or "gauge"
	unit  string
	value int64
}

// seriesKey names a series: the instrument and its attribute set, such as
// `cdp.client.messages{cdp.outcome=failed,cdp.reason=status,source=a}`.
func seriesKey(name string, set attribute.Set) string {
	var kvs []string
	for _, kv := range set.ToSlice() {
		kvs = append(kvs, string(kv.Key)+"="+kv.Value.String())
	}
	sort.Strings(kvs)
	return name + "{" + strings.Join(kvs, ",") + "}"
}

// collect reads r once and returns this package's data points by series.
// It fails the test on data of a kind Observe never reports.
func collect(t *testing.T, r *sdkmetric.ManualReader) map[string]point {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	out := map[string]point{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != "github.com/cdpkit/analytics-go/otelanalytics" {
			continue
		}
		for _, m := range sm.Metrics {
			require.NotEmpty(t, m.Description, "description of %s", m.Name)
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				require.True(t, d.IsMonotonic, "%s is monotonic", m.Name)
				require.Equal(t, metricdata.CumulativeTemporality, d.Temporality, "%s temporality", m.Name)
				for _, dp := range d.DataPoints {
					out[seriesKey(m.Name, dp.Attributes)] = point{"sum", m.Unit, dp.Value}
				}
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					out[seriesKey(m.Name, dp.Attributes)] = point{"gauge", m.Unit, dp.Value}
				}
			default:
				t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return out
}

// collectStable collects while the client's Stats do not change, so that
// the points can be compared with the Stats returned. It retries a few
// times if the pipeline moved during the collection.
func collectStable(t *testing.T, r *sdkmetric.ManualReader, c *analytics.Client) (map[string]point, analytics.Stats) {
	t.Helper()
	for range 100 {
		before := c.Stats()
		pts := collect(t, r)
		if after := c.Stats(); after == before {
			return pts, before
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the client's Stats kept changing during collections")
	return nil, analytics.Stats{}
}

// want is what Observe must report for st, with extra attributes attrs
// ("k=v" strings) on every series. It is written out series by series,
// independently of the table in observe.go.
func want(st analytics.Stats, attrs ...string) map[string]point {
	key := func(name string, kvs ...string) string {
		kvs = append(append([]string(nil), kvs...), attrs...)
		sort.Strings(kvs)
		return name + "{" + strings.Join(kvs, ",") + "}"
	}
	const msgs = "cdp.client.messages"
	return map[string]point{
		key(msgs, "cdp.outcome=enqueued"):                         {"sum", "{message}", st.Enqueued},
		key(msgs, "cdp.outcome=delivered"):                        {"sum", "{message}", st.Delivered},
		key(msgs, "cdp.outcome=failed", "cdp.reason=status"):      {"sum", "{message}", st.FailedStatus},
		key(msgs, "cdp.outcome=failed", "cdp.reason=retries"):     {"sum", "{message}", st.FailedRetries},
		key(msgs, "cdp.outcome=failed", "cdp.reason=shutdown"):    {"sum", "{message}", st.FailedShutdown},
		key(msgs, "cdp.outcome=failed", "cdp.reason=spool"):       {"sum", "{message}", st.FailedSpool},
		key(msgs, "cdp.outcome=dropped"):                          {"sum", "{message}", st.DroppedQueueFull},
		key(msgs, "cdp.outcome=rejected", "cdp.reason=invalid"):   {"sum", "{message}", st.RejectedInvalid},
		key(msgs, "cdp.outcome=rejected", "cdp.reason=too_large"): {"sum", "{message}", st.RejectedTooLarge},
		key(msgs, "cdp.outcome=rejected", "cdp.reason=transform"): {"sum", "{message}", st.RejectedByTransform},
		key(msgs, "cdp.outcome=filtered"):                         {"sum", "{message}", st.DroppedByTransform},
		key("cdp.client.requests"):                                {"sum", "{request}", st.Requests},
		key("cdp.client.retries"):                                 {"sum", "{request}", st.Retries},
		key("cdp.client.sent"):                                    {"sum", "By", st.BytesSent},
		key("cdp.client.queue.messages"):                          {"gauge", "{message}", st.Queued},
		key("cdp.client.queue.bytes"):                             {"gauge", "By", st.QueuedBytes},
		key("cdp.client.inflight.messages"):                       {"gauge", "{message}", st.InFlight},
	}
}

// only returns the points whose series carry the attribute kv ("k=v").
func only(pts map[string]point, kv string) map[string]point {
	out := map[string]point{}
	for k, p := range pts {
		if strings.Contains(k, "{"+kv+",") || strings.Contains(k, ","+kv+",") ||
			strings.Contains(k, ","+kv+"}") || strings.Contains(k, "{"+kv+"}") {
			out[k] = p
		}
	}
	return out
}

func (p point) String() string { return fmt.Sprintf("%s %s %d", p.kind, p.unit, p.value) }
