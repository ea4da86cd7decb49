package analytics_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func ptr[T any](v T) *T { return &v }

// coreMessages are the core calls with every field set.
func coreMessages() map[string]analytics.Message {
	ctx := &analytics.Context{
		Active:    ptr(true),
		IP:        "203.0.113.7",
		Locale:    "en-US",
		UserAgent: "Mozilla/5.0",
		Channel:   analytics.ChannelServer,
		Timezone:  "Europe/Berlin",
		Campaign:  &analytics.CampaignInfo{Name: "spring", Source: "newsletter", Medium: "email", Extra: map[string]any{"utm_id": "42"}},
		Page:      &analytics.PageInfo{Path: "/pricing", URL: "https://example.com/pricing", Title: "Pricing", Keywords: []string{"price"}},
		App:       &analytics.AppInfo{Name: "shop", Version: "1.2.3", Build: "45"},
		Device:    &analytics.DeviceInfo{ID: "d1", Manufacturer: "Apple", Model: "iPhone16,1", Type: "ios"},
		OS:        &analytics.OSInfo{Name: "iOS", Version: "18.1"},
		Network:   &analytics.NetworkInfo{WiFi: ptr(true), Cellular: ptr(false)},
		Location:  &analytics.LocationInfo{City: "Berlin", Country: "DE", Latitude: ptr(52.52), Longitude: ptr(13.405)},
		Screen:    &analytics.ScreenInfo{Width: 1179, Height: 2556, Density: 3},
		Referrer:  &analytics.ReferrerInfo{Type: "link", URL: "https://example.org"},
		Extra:     map[string]any{"ip": "ignored: the field wins", "library": "ignored", "custom": map[string]any{"b": 2, "a": 1}},
	}
	ts := time.Date(2025, 12, 31, 23, 59, 59, 123_456_789, time.FixedZone("CET", 3600))
	integ := analytics.Integrations{"All": true, "Salesforce": false}
	return map[string]analytics.Message{
		"identify": analytics.Identify{
			UserID: "97980cfea0067", AnonymousID: "c0e5cae6-6f04-46e4-97a8-25076e8bdc0b",
			Traits:    analytics.Traits{"email": "cool.person@example.com", "name": "Cool Person", "likes_baseball": true, "games_attended": 5, "createdAt": time.Date(2019, 8, 24, 14, 15, 22, 0, time.UTC)},
			Timestamp: ts, Context: ctx, Integrations: integ, MessageID: "identify-1",
		},
		"track": analytics.Track{
			UserID: "AiUGstSDIg", Event: "  Course Started ",
			Properties: analytics.Properties{"title": "Intro to Customer.io", "price": 0, "tags": []string{"a", "b"}, "nested": map[string]any{"n": nil}},
			Timestamp:  ts, Context: ctx, Integrations: integ, MessageID: "track-1",
		},
		"page": analytics.Page{
			AnonymousID: "507f191e810c19729de860ea", Name: "Home",
			Properties: analytics.Properties{"url": "https://example.com/", "title": "Welcome"},
			Context:    ctx, MessageID: "page-1",
		},
		"screen": analytics.Screen{
			UserID: "97980cfea0067", Name: "feed",
			Properties: analytics.Properties{"subscriptions": []any{"news"}},
			Context:    ctx, MessageID: "screen-1",
		},
		"group": analytics.Group{
			UserID: "97980cfea0067", GroupID: "acme", ObjectTypeID: "1",
			Traits:                 analytics.Traits{"name": "ACME, Inc.", "industry": "Technology", "employees": 329},
			RelationshipAttributes: map[string]any{"role": "admin"},
			Integrations:           integ, MessageID: "group-1",
		},
		"alias": analytics.Alias{UserID: "new-id", PreviousID: "old-id", MessageID: "alias-1"},
	}
}

// TestCoreGolden checks each core call as it arrives at the API.
func TestCoreGolden(t *testing.T) {
	s := newSink(t)
	c := newTestClient(t, s.URL, deterministic()...)
	msgs := coreMessages()
	names := []string{"identify", "track", "page", "screen", "group", "alias"}
	for _, name := range names {
		require.NoError(t, c.Enqueue(msgs[name]), name)
	}
	require.NoError(t, c.Close())

	reqs := s.Requests()
	require.Len(t, reqs, 1, "six small messages fit in one batch")
	r := reqs[0]
	assert.Equal(t, "/v1/batch", r.path)
	assert.Equal(t, testKey, r.user, "basic auth user is the API key")
	assert.Empty(t, s.Violations(), "basic auth password is empty (the fake checks it)")
	var env map[string]any
	require.NoError(t, json.Unmarshal(r.body, &env))
	assert.Equal(t, "2026-01-02T03:04:05.678Z", env["sentAt"])
	assert.Len(t, env, 2, "no batch-level context or integrations")
	require.Len(t, r.messages, len(names))
	for i, name := range names {
		checkGolden(t, filepath.Join("testdata", "golden", "core", name+".json"), r.messages[i])
	}
}

// checkGolden compares got, pretty-printed, with the golden file, or
// rewrites the file under -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, got, "", "  "))
	pretty.WriteByte('\n')
	if strings.Contains(pretty.String(), testKey) {
		t.Fatalf("%s: the API key must not appear in a golden file", path)
	}
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, pretty.Bytes(), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -run %s -update to create it", t.Name())
	assert.Equal(t, string(want), pretty.String(), "%s differs; run go test -run %s -update if the change is intended", path, t.Name())
}

// TestBatchLimits sends 3,000 messages of random sizes: no request body is
// over MaxBatchBytes or holds more than the batch size, and every message
// arrives exactly once.
func TestBatchLimits(t *testing.T) {
	s := newSink(t)
	const batchSize = 120
	c := newTestClient(t, s.URL, deterministic(analytics.WithBatchSize(batchSize), analytics.WithQueueCapacity(5000), analytics.WithQueueMaxBytes(200<<20))...)
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 3000
	for i := range n {
		pad := strings.Repeat("x", rng.IntN(31_000))
		require.NoError(t, c.Enqueue(analytics.Track{
			UserID: "u", Event: "Sized", MessageID: fmt.Sprintf("m%04d", i),
			Properties: analytics.Properties{"pad": pad},
		}))
	}
	// 46 MB through the validating fake: under -race on a busy machine
	// that outlasts Close's 10 s, so wait with the suite's bound.
	require.NoError(t, c.Shutdown(bounded(t)))

	seen := map[string]int{}
	for _, r := range s.Requests() {
		assert.LessOrEqual(t, len(r.body), analytics.MaxBatchBytes, "request body over the API limit")
		assert.LessOrEqual(t, len(r.messages), batchSize)
		for _, m := range r.messages {
			var v struct{ MessageID string }
			require.NoError(t, json.Unmarshal(m, &v))
			seen[v.MessageID]++
		}
	}
	require.Len(t, seen, n, "every message delivered")
	for id, k := range seen {
		require.Equal(t, 1, k, "message %s delivered %d times", id, k)
	}
	st := c.Stats()
	assert.Equal(t, int64(n), st.Enqueued)
	assert.Equal(t, int64(n), st.Delivered)
	assert.Greater(t, st.Batches, int64(n*15_500/analytics.MaxBatchBytes), "batches were cut by bytes")
}

// TestMessageTooLarge: a 40 KB message is rejected and nothing is sent.
func TestMessageTooLarge(t *testing.T) {
	s := newSink(t)
	c := newTestClient(t, s.URL, deterministic()...)
	err := c.Enqueue(analytics.Track{UserID: "u", Event: "Big", Properties: analytics.Properties{"blob": strings.Repeat("a", 40_000)}})
	require.ErrorIs(t, err, analytics.ErrMessageTooLarge)
	assert.Contains(t, err.Error(), `track "Big"`)
	require.NoError(t, c.Flush(bounded(t)))
	require.NoError(t, c.Close())
	assert.Empty(t, s.Requests(), "nothing is sent")
	st := c.Stats()
	assert.Equal(t, int64(1), st.RejectedTooLarge)
	assert.Equal(t, int64(0), st.Enqueued)
}

// TestMessageAtLimit: a message of exactly MaxMessageBytes is sent; one byte
// more is not.
func TestMessageAtLimit(t *testing.T) {
	s := newSink(t)
	c := newTestClient(t, s.URL, deterministic()...)
	base := analytics.Track{UserID: "u", Event: "Edge", MessageID: "edge", Properties: analytics.Properties{"p": ""}}
	require.NoError(t, c.Enqueue(base))
	require.NoError(t, c.Flush(bounded(t)))
	size := len(s.Requests()[0].messages[0])
	base.Properties = analytics.Properties{"p": strings.Repeat("a", analytics.MaxMessageBytes-size)}
	require.NoError(t, c.Enqueue(base), "exactly MaxMessageBytes")
	base.Properties = analytics.Properties{"p": strings.Repeat("a", analytics.MaxMessageBytes-size+1)}
	require.ErrorIs(t, c.Enqueue(base), analytics.ErrMessageTooLarge)
	require.NoError(t, c.Close())
	reqs := s.Requests()
	require.Len(t, reqs, 2)
	assert.Len(t, reqs[1].messages[0], analytics.MaxMessageBytes)
}

// TestRetryDuringClose: the final flush in Close meets a 503, retries, and
// delivers; Close returns nil.
func TestRetryDuringClose(t *testing.T) {
	s := newSink(t, analyticstest.Response{Status: http.StatusServiceUnavailable})
	c := newTestClient(t, s.URL, deterministic(analytics.WithRetryWait(time.Millisecond, 5*time.Millisecond))...)
	for i := range 10 {
		require.NoError(t, c.Enqueue(analytics.Identify{UserID: fmt.Sprint(i)}))
	}
	require.NoError(t, c.Close())
	reqs := s.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, 503, reqs[0].status)
	assert.Equal(t, 200, reqs[1].status)
	assert.Equal(t, reqs[0].body, reqs[1].body, "the retry sends the same bytes")
	assert.Len(t, s.AcceptedIDs(), 10)
	st := c.Stats()
	assert.Equal(t, int64(10), st.Delivered)
	assert.Equal(t, int64(1), st.Retries)
}

// TestQueueFullWhileStalled: with the server stalled, Enqueue returns
// ErrQueueFull instead of waiting, and memory stays bounded.
func TestQueueFullWhileStalled(t *testing.T) {
	release := make(chan struct{})
	s := newSink(t)
	s.SetDefault(analyticstest.Response{Hold: release}) // stalled until release
	const capacity = 1000
	const maxBytes = 1 << 20
	c := newTestClient(t, s.URL, deterministic(analytics.WithBatchSize(100), analytics.WithMaxInFlight(2), analytics.WithQueueCapacity(capacity), analytics.WithQueueMaxBytes(maxBytes))...)

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	pad := strings.Repeat("p", 1000)
	accepted, full := 0, 0
	for range 20_000 {
		err := c.Enqueue(analytics.Track{UserID: "u", Event: "Burst", Properties: analytics.Properties{"pad": pad}})
		switch {
		case err == nil:
			accepted++
		case errors.Is(err, analytics.ErrQueueFull):
			full++
		default:
			t.Fatalf("Enqueue: %v", err)
		}
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)

	assert.Greater(t, full, 15_000, "most of the burst is refused")
	st := c.Stats()
	assert.LessOrEqual(t, st.Queued, int64(capacity))
	assert.LessOrEqual(t, st.QueuedBytes, int64(maxBytes))
	assert.Equal(t, int64(full), st.DroppedQueueFull)
	assert.Equal(t, int64(accepted), st.Enqueued)
	// The queue, two batches being sent and one waiting for a sender: a
	// few MiB. Twenty thousand messages would be over 20 MiB.
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	assert.Less(t, growth, int64(8<<20), "heap grew by %d bytes", growth)

	close(release)
	require.NoError(t, c.Close())
	assert.Len(t, s.AcceptedIDs(), accepted, "every accepted message is delivered once the server recovers")
}

// TestEnqueueContextBackpressure: the blocking variant waits for room and
// gives up when its context ends or the client closes.
func TestEnqueueContextBackpressure(t *testing.T) {
	release := make(chan struct{})
	s := newSink(t)
	s.SetDefault(analyticstest.Response{Hold: release}) // stalled until release
	c := newTestClient(t, s.URL, deterministic(analytics.WithBatchSize(1), analytics.WithMaxInFlight(1), analytics.WithQueueCapacity(2))...)
	msg := analytics.Track{UserID: "u", Event: "E"}
	// One in flight, one waiting for a sender, two queued.
	waitFor(t, "one in flight, one waiting and two queued", func() bool {
		if err := c.Enqueue(msg); err != nil {
			require.ErrorIs(t, err, analytics.ErrQueueFull)
		}
		return c.Stats().InFlight >= 2 && c.Stats().Queued >= 2
	})
	require.ErrorIs(t, c.Enqueue(msg), analytics.ErrQueueFull)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.EnqueueContext(ctx, msg) }()
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	go func() { done <- c.EnqueueContext(context.Background(), msg) }()
	close(release) // the server answers; room appears
	require.NoError(t, <-done)
	require.NoError(t, c.Close())
	assert.Equal(t, int64(5), c.Stats().Delivered)
}

// TestConcurrentSafe races Enqueue, Flush, Stats and Shutdown from many
// goroutines: no panic, and every accepted message is delivered exactly
// once.
func TestConcurrentSafe(t *testing.T) {
	s := newSink(t)
	for range 200 { // every 7th answer is a 502, which is retried
		s.Script(analyticstest.Response{}, analyticstest.Response{}, analyticstest.Response{}, analyticstest.Response{},
			analyticstest.Response{}, analyticstest.Response{}, analyticstest.Response{Status: http.StatusBadGateway})
	}
	c := newTestClient(t, s.URL, deterministic(analytics.WithBatchSize(17), analytics.WithFlushInterval(time.Millisecond), analytics.WithRetryWait(time.Millisecond, 2*time.Millisecond), analytics.WithMaxAttempts(50))...)
	var accepted sync.Map
	var wg sync.WaitGroup
	var closedSeen atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				id := fmt.Sprintf("g%d-%d", g, i)
				err := c.Enqueue(analytics.Track{UserID: "u", Event: "Race", MessageID: id})
				switch {
				case err == nil:
					accepted.Store(id, true)
				case errors.Is(err, analytics.ErrClosed):
					closedSeen.Add(1)
				default:
					t.Errorf("Enqueue: %v", err)
				}
				if i%100 == 0 {
					err := c.Flush(bounded(t))
					if err != nil && !errors.Is(err, analytics.ErrClosed) {
						t.Errorf("Flush: %v", err)
					}
					_ = c.Stats()
				}
			}
		}()
	}
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
			assert.NoError(t, c.Shutdown(bounded(t)))
		}()
	}
	wg.Wait()
	require.NoError(t, c.Close())

	got := s.AcceptedIDs()
	n := 0
	accepted.Range(func(k, _ any) bool {
		n++
		assert.Equal(t, 1, got[k.(string)], "message %s", k)
		return true
	})
	assert.Len(t, got, n, "nothing delivered that was not accepted")
	st := c.Stats()
	assert.Equal(t, int64(n), st.Delivered)
	assert.Equal(t, st.Enqueued, st.Delivered+st.Failed+st.Queued+st.InFlight)
	t.Logf("accepted %d, refused after close %d, requests %d", n, closedSeen.Load(), st.Requests)
}

// TestFlushWaitsForRetries: Flush returns only once a batch being retried
// has its outcome, and leaves the client usable.
func TestFlushWaitsForRetries(t *testing.T) {
	s := newSink(t, analyticstest.Response{Status: http.StatusInternalServerError}, analyticstest.Response{Status: http.StatusInternalServerError})
	c := newTestClient(t, s.URL, deterministic(analytics.WithRetryWait(time.Millisecond, 2*time.Millisecond))...)
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "First"}))
	require.NoError(t, c.Flush(bounded(t)))
	assert.Len(t, s.AcceptedIDs(), 1, "delivered when Flush returns")
	require.NoError(t, c.Flush(bounded(t)), "an empty Flush")
	assert.Len(t, s.Requests(), 3, "an empty Flush sends nothing")
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "Second"}))
	require.NoError(t, c.Flush(bounded(t)))
	assert.Len(t, s.AcceptedIDs(), 2)
}

// TestFlushInterval: a lone message is sent when the interval ticks.
func TestFlushInterval(t *testing.T) {
	s := newSink(t)
	synctest.Test(t, func(t *testing.T) {
		tr := noKeepAlive()
		defer tr.CloseIdleConnections()
		c, err := analytics.New(testKey, analytics.WithEndpoint(s.URL), analytics.WithLogger(quietLogger()),
			analytics.WithHTTPClient(&http.Client{Transport: tr}), analytics.WithFlushInterval(3*time.Second))
		require.NoError(t, err)
		require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "Tick"}))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		assert.Equal(t, int64(0), c.Stats().Requests, "not sent before the interval")
		time.Sleep(1500 * time.Millisecond)
		// The request is on the real network.
		waitFor(t, "the batch", func() bool { return c.Stats().Batches > 0 })
		assert.Equal(t, int64(1), c.Stats().Delivered)
		require.NoError(t, c.Close())
	})
}

// TestGzip: bodies are compressed when asked, and limits apply to the
// uncompressed body.
func TestGzip(t *testing.T) {
	s := newSink(t)
	c := newTestClient(t, s.URL, deterministic(analytics.WithGzip(true))...)
	for range 50 {
		require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "Zipped", Properties: analytics.Properties{"text": strings.Repeat("abc", 100)}}))
	}
	require.NoError(t, c.Close())
	reqs := s.Requests()
	require.Len(t, reqs, 1)
	assert.Less(t, reqs[0].wire, len(reqs[0].body)/5, "compressed")
	assert.Len(t, s.AcceptedIDs(), 50)
	assert.Equal(t, int64(reqs[0].wire), c.Stats().BytesSent)
}

// noKeepAlive returns a transport for synctest bubbles: an idle keep-alive
// connection waits on the real network, which synctest does not count as
// durably blocked, so the bubble's clock would never advance.
func noKeepAlive() *http.Transport { return &http.Transport{DisableKeepAlives: true} }

// TestCallbackPanicContained: a panicking WithCallback function is logged;
// the other messages of the batch are still reported, and delivery and
// Flush go on.
func TestCallbackPanicContained(t *testing.T) {
	s := newSink(t)
	var logs logCapture
	var calls atomic.Int64
	c := newTestClient(t, s.URL, deterministic(analytics.WithLogger(logs.Logger()), analytics.WithCallback(func(analytics.Result) { calls.Add(1); panic("user bug") }))...)
	for range 3 {
		require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "E"}))
	}
	require.NoError(t, c.Flush(bounded(t)))
	require.NoError(t, c.Close())
	assert.Len(t, s.AcceptedIDs(), 3)
	assert.Equal(t, int64(3), calls.Load(), "every message of the batch reported")
	assert.Contains(t, logs.String(), "panicked")
}

// TestClientStringHidesKey: printing the client with any verb, or logging
// it, does not show the API key or the Authorization value made from it.
func TestClientStringHidesKey(t *testing.T) {
	s := newSink(t)
	c := newTestClient(t, s.URL, deterministic()...)
	var logs logCapture
	logs.Logger().Info("client", "client", c)
	auth := base64.StdEncoding.EncodeToString([]byte(testKey + ":"))
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), logs.String()} {
		assert.NotContains(t, out, testKey)
		assert.NotContains(t, out, auth)
		assert.Contains(t, out, s.URL)
	}
	var nilClient *analytics.Client
	assert.Equal(t, "analytics.Client(nil)", nilClient.String())
}

// TestNilContext: a nil context is taken as context.Background().
func TestNilContext(t *testing.T) {
	s := newSink(t)
	c := newTestClient(t, s.URL, deterministic()...)
	//lint:ignore SA1012 a nil context on purpose
	require.NoError(t, c.EnqueueContext(nil, analytics.Track{UserID: "u", Event: "E"}))
	//lint:ignore SA1012 a nil context on purpose
	require.NoError(t, c.Flush(nil))
	//lint:ignore SA1012 a nil context on purpose
	require.NoError(t, c.Shutdown(nil))
	assert.Len(t, s.AcceptedIDs(), 1)
}

// TestQueueSmallerThanBatch: a queue that fills before a batch does is sent
// at once, not at the next flush tick.
func TestQueueSmallerThanBatch(t *testing.T) {
	s := newSink(t)
	synctest.Test(t, func(t *testing.T) {
		tr := noKeepAlive()
		defer tr.CloseIdleConnections()
		c, err := analytics.New(testKey, analytics.WithEndpoint(s.URL), analytics.WithLogger(quietLogger()),
			analytics.WithHTTPClient(&http.Client{Transport: tr}),
			analytics.WithQueueCapacity(10), analytics.WithBatchSize(100), analytics.WithFlushInterval(time.Hour))
		require.NoError(t, err)
		start := time.Now()
		accepted := 0
		for refused := 0; accepted < 25; {
			err := c.Enqueue(analytics.Track{UserID: "u", Event: "E"})
			if err == nil {
				accepted++
				continue
			}
			require.ErrorIs(t, err, analytics.ErrQueueFull)
			// Each refusal finds the queue full and is followed by a cut:
			// a client refusing an empty queue would loop here for good.
			refused++
			require.LessOrEqual(t, refused, 25, "Enqueue keeps refusing after the queue was cut")
			// The refused push woke the batcher; let it cut and send.
			waitFor(t, "the queue to be cut", func() bool { return c.Stats().Queued == 0 })
		}
		require.NoError(t, c.Flush(bounded(t)))
		assert.Less(t, time.Since(start), time.Hour, "sent long before the hourly tick")
		assert.Equal(t, int64(25), c.Stats().Delivered)
		require.NoError(t, c.Close())
	})
}

// TestFlushAndShutdownBothReport: a Flush waiting on a batch that Shutdown
// abandons and Shutdown itself both report the loss; neither takes it from
// the other.
func TestFlushAndShutdownBothReport(t *testing.T) {
	s := newSink(t)
	s.SetDefault(analyticstest.Response{Hang: true}) // until the client gives up
	c := newTestClient(t, s.URL, deterministic()...)
	for range 10 {
		require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "E"}))
	}
	flushed := make(chan error, 1)
	go func() { flushed <- c.Flush(bounded(t)) }()
	waitFor(t, "the Flush to cut the batch", func() bool { return c.Stats().InFlight > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	shutdownErr := c.Shutdown(ctx)
	for name, err := range map[string]error{"Flush": <-flushed, "Shutdown": shutdownErr} {
		var de *analytics.DeliveryError
		require.ErrorAs(t, err, &de, name)
		assert.Equal(t, int64(10), de.Undelivered, name)
	}
	// A Flush that finished before Shutdown began has reported its losses:
	// Shutdown does not count them again.
	s2 := newSink(t)
	s2.SetDefault(analyticstest.Response{Status: http.StatusBadRequest})
	c2 := newTestClient(t, s2.URL, deterministic()...)
	require.NoError(t, c2.Enqueue(analytics.Track{UserID: "u", Event: "E"}))
	require.Error(t, c2.Flush(bounded(t)))
	require.NoError(t, c2.Close())
}

// TestBlockedEnqueueContextHoldsLittle: callers blocked in EnqueueContext
// on a full queue hold their message, not an encoder's buffers.
func TestBlockedEnqueueContextHoldsLittle(t *testing.T) {
	release := make(chan struct{})
	s := newSink(t)
	s.SetDefault(analyticstest.Response{Hold: release}) // stalled until release
	c := newTestClient(t, s.URL, deterministic(analytics.WithBatchSize(1), analytics.WithMaxInFlight(1), analytics.WithQueueCapacity(1))...)
	msg := analytics.Track{UserID: "u", Event: "E"}
	waitFor(t, "a full queue and two messages in flight", func() bool {
		_ = c.Enqueue(msg)
		return c.Stats().Queued >= 1 && c.Stats().InFlight >= 2
	})
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	const callers = 2000
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var blocked atomic.Int64
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			blocked.Add(1)
			assert.ErrorIs(t, c.EnqueueContext(ctx, msg), context.Canceled)
		}()
	}
	for blocked.Load() < callers {
		runtime.Gosched()
	}
	// Callers still on their way to the wait hold more for a moment;
	// measure until they have all settled (or give up after a second). A
	// waiting caller keeps its encoder only while its buffer is at most
	// 4 KiB (about 1.5 KiB here), else a copy of the message.
	growth := int64(math.MaxInt64)
	for range 100 {
		var during runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&during)
		growth = min(growth, int64(during.HeapAlloc)-int64(before.HeapAlloc))
		if growth < 8<<20 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	close(release)

	// 2,000 callers holding a 16 KiB chunk each would be over 30 MiB.
	assert.Less(t, growth, int64(8<<20), "heap grew by at least %d bytes with %d blocked callers", growth, callers)
}

// TestEarlyAnswerWhileBodyIsRead: an API that answers before it has read the
// request body (as a proxy rejecting a large request may) while the body is
// still being written. Under -race this catches a request body reused for
// the next batch while net/http still reads it.
func TestEarlyAnswerWhileBodyIsRead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				r := bufio.NewReader(conn)
				for { // the request line and headers
					line, err := r.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				_, _ = conn.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
				buf := make([]byte, 4096)
				for { // then read the body, slowly
					if _, err := r.Read(buf); err != nil {
						return
					}
					time.Sleep(100 * time.Microsecond)
				}
			}()
		}
	}()
	c, err := analytics.New(testKey, analytics.WithEndpoint("http://"+ln.Addr().String()),
		analytics.WithLogger(quietLogger()), analytics.WithBatchSize(20), analytics.WithMaxInFlight(1))
	require.NoError(t, err)
	pad := strings.Repeat("x", 20_000)
	for range 100 {
		require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"pad": pad}}))
	}
	err = c.Close()
	var apiErr *analytics.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 400, apiErr.StatusCode)
	assert.Equal(t, int64(100), c.Stats().FailedStatus)
}

// TestCallbackResultEvent: each Result names its message's event and id as
// sent, decoded from the encoded message, also when the JSON had to escape
// them (quotes, a backslash, control characters, U+2028, non-ASCII), for
// the memory queue and for the spool.
func TestCallbackResultEvent(t *testing.T) {
	msgs := []analytics.Message{
		analytics.Track{UserID: "u", Event: "Button Clicked", MessageID: "m-plain"},
		analytics.Track{UserID: "u", Event: `Said "hi" \ back`, MessageID: `m-"quoted"`},
		analytics.Track{UserID: "u", Event: "tab\tnew\nline\u2028sep", MessageID: "m-control"},
		analytics.Track{UserID: "u", Event: "Café ☕ 注文 🎉", MessageID: "m-unicode"},
		analytics.Track{UserID: "u", Event: "  Trimmed  ", MessageID: "m-trimmed"},
		analytics.Identify{UserID: "u", MessageID: "m-identify"},
	}
	want := []analytics.Result{
		{MessageID: "m-plain", Type: "track", Event: "Button Clicked"},
		{MessageID: `m-"quoted"`, Type: "track", Event: `Said "hi" \ back`},
		{MessageID: "m-control", Type: "track", Event: "tab\tnew\nline\u2028sep"},
		{MessageID: "m-unicode", Type: "track", Event: "Café ☕ 注文 🎉"},
		{MessageID: "m-trimmed", Type: "track", Event: "Trimmed"},
		{MessageID: "m-identify", Type: "identify", Event: ""},
	}
	for _, spooled := range []bool{false, true} {
		t.Run(fmt.Sprintf("spool=%v", spooled), func(t *testing.T) {
			s := newSink(t)
			var mu sync.Mutex
			var got []analytics.Result
			record := analytics.WithCallback(func(r analytics.Result) {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, r)
			})
			var c *analytics.Client
			if spooled {
				c = newSpoolClient(t, s.URL, t.TempDir(), record)
			} else {
				c = newTestClient(t, s.URL, record)
			}
			for _, m := range msgs {
				require.NoError(t, c.Enqueue(m))
			}
			require.NoError(t, c.Flush(bounded(t)))
			mu.Lock()
			defer mu.Unlock()
			assert.ElementsMatch(t, want, got)
			sent := map[string]any{}
			for _, m := range s.Accepted() {
				sent[m["messageId"].(string)] = m["event"]
			}
			for _, r := range want[:5] {
				assert.Equal(t, r.Event, sent[r.MessageID], "the event as sent, for %s", r.MessageID)
			}
		})
	}
}
