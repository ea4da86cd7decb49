package otelanalytics_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/cdpkit/analytics-go/otelanalytics"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.uber.org/goleak"
)

func newReader() (*sdkmetric.ManualReader, *sdkmetric.MeterProvider) {
	r := sdkmetric.NewManualReader()
	return r, sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
}

// TestScriptedRun drives a client through every outcome the instruments
// tell apart and checks, in the middle and at the end, that each series
// equals its Stats field.
func TestScriptedRun(t *testing.T) {
	reader, mp := newReader()
	f := newFixture(t, analytics.WithBatchSize(1), analytics.WithMaxInFlight(1),
		analytics.WithQueueCapacity(2), analytics.WithRetry(analytics.RetryPolicy{MaxAttempts: 2}))
	reg, err := otelanalytics.Observe(f.client, otelanalytics.WithMeterProvider(mp),
		otelanalytics.WithAttributes(attribute.String("service.name", "checkout")))
	require.NoError(t, err)
	defer func() { require.NoError(t, reg.Unregister()) }()
	ctx := timeout(t)
	const svc = "service.name=checkout"

	// Before anything happened every series is there, at zero.
	pts, st := collectStable(t, reader, f.client)
	require.Equal(t, analytics.Stats{}, st)
	assert.Equal(t, want(st, svc), pts)

	// Delivered messages. (EnqueueContext waits for room in the small
	// queue.)
	for _, u := range []string{"u1", "u2", "u3"} {
		require.NoError(t, f.client.EnqueueContext(ctx, track(u)))
	}
	require.NoError(t, f.client.Flush(ctx))

	// A 500 then a success: one retry, delivered.
	f.fake.Script(analyticstest.Response{Status: 500})
	require.NoError(t, f.client.Enqueue(track("u4")))
	require.NoError(t, f.client.Flush(ctx))

	// Two batches answered 400: failed, reason status. (The counts of
	// the outcomes differ so that a mix-up of two shows.)
	bad := analyticstest.Response{Status: 400, Body: `{"error":"bad"}`}
	f.fake.Script(bad, bad)
	require.NoError(t, f.client.Enqueue(track("u5")))
	require.NoError(t, f.client.Enqueue(track("u5")))
	var de *analytics.DeliveryError
	require.ErrorAs(t, f.client.Flush(ctx), &de)
	require.EqualValues(t, 2, de.Undelivered)

	// Three batches answered 500 twice, with two attempts: failed,
	// reason retries.
	for range 6 {
		f.fake.Script(analyticstest.Response{Status: 500})
	}
	for range 3 {
		require.NoError(t, f.client.EnqueueContext(ctx, track("u6")))
	}
	require.ErrorAs(t, f.client.Flush(ctx), &de)
	require.EqualValues(t, 3, de.Undelivered)

	// Refused by Enqueue: too large, invalid.
	huge := track("u7")
	huge.Properties = analytics.Properties{"blob": strings.Repeat("x", 40_000)}
	require.ErrorIs(t, f.client.Enqueue(huge), analytics.ErrMessageTooLarge)
	require.ErrorIs(t, f.client.Enqueue(analytics.Track{UserID: "u8"}), analytics.ErrInvalidMessage)
	require.ErrorIs(t, f.client.Enqueue(analytics.Identify{}), analytics.ErrInvalidMessage)

	// Queue full: the API stalls, the sender waits, the queue fills.
	f.gate.hold()
	// Enqueue until a message is dropped while the queue is at its
	// capacity and a batch is held by the stalled sender.
	var dropped int64
	for {
		require.NoError(t, ctx.Err(), "the queue never filled")
		err := f.client.Enqueue(track("u9"))
		if err == nil {
			continue
		}
		require.ErrorIs(t, err, analytics.ErrQueueFull)
		dropped++
		if st := f.client.Stats(); st.Queued == 2 && st.InFlight > 0 {
			break
		}
		time.Sleep(time.Millisecond) // let the batcher take from the queue
	}
	pts, st = collectStable(t, reader, f.client)
	assert.Equal(t, want(st, svc), pts, "while stalled")
	assert.Positive(t, st.Queued, "the stall shows in the queue gauge")
	assert.Positive(t, st.QueuedBytes)
	assert.Positive(t, st.InFlight, "and in the in-flight gauge")
	f.gate.release()
	require.NoError(t, f.client.Flush(ctx))

	// Shutdown gives up on a stalled message: failed, reason shutdown.
	f.gate.hold()
	require.NoError(t, f.client.Enqueue(track("u10")))
	for f.client.Stats().InFlight == 0 {
		require.NoError(t, ctx.Err(), "the message never went out")
		time.Sleep(time.Millisecond)
	}
	expired, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorAs(t, f.client.Shutdown(expired), &de)

	pts, st = collectStable(t, reader, f.client)
	assert.Equal(t, want(st, svc), pts, "at the end")
	// The run did what it was scripted to do, so the comparison above
	// compared numbers that mean something.
	assert.EqualValues(t, 2, st.FailedStatus)
	assert.EqualValues(t, 3, st.FailedRetries)
	assert.EqualValues(t, 1, st.FailedShutdown)
	assert.EqualValues(t, 6, st.Failed)
	assert.Equal(t, dropped, st.DroppedQueueFull)
	assert.EqualValues(t, 1, st.RejectedTooLarge)
	assert.EqualValues(t, 2, st.RejectedInvalid)
	assert.EqualValues(t, 4, st.Retries)
	assert.Equal(t, int64(len(f.fake.Messages())), st.Delivered)
	assert.Equal(t, st.Enqueued, st.Delivered+st.Failed)
	assert.Positive(t, st.BytesSent)

	for series := range pts {
		assert.NotContains(t, series, testKey, "the API key is never an attribute")
	}
}

// TestObserveStartsNoGoroutine: Observe and collections run on the
// caller's goroutines only.
func TestObserveStartsNoGoroutine(t *testing.T) {
	reader, mp := newReader()
	f := newFixture(t)
	// An idle client whose goroutines have all started.
	require.NoError(t, f.client.Enqueue(track("u1")))
	require.NoError(t, f.client.Flush(timeout(t)))
	before := goleak.IgnoreCurrent()
	reg, err := otelanalytics.Observe(f.client, otelanalytics.WithMeterProvider(mp))
	require.NoError(t, err)
	collect(t, reader)
	goleak.VerifyNone(t, before)
	require.NoError(t, reg.Unregister())
}

// TestUnregister: after Unregister a collection reports nothing for the
// client, and nothing is left running once the client is closed.
func TestUnregister(t *testing.T) {
	defer goleak.VerifyNone(t)
	reader, mp := newReader()
	f := newFixture(t)
	reg, err := otelanalytics.Observe(f.client, otelanalytics.WithMeterProvider(mp))
	require.NoError(t, err)
	require.NoError(t, f.client.Enqueue(track("u1")))
	require.NoError(t, f.client.Flush(timeout(t)))
	pts, st := collectStable(t, reader, f.client)
	require.Equal(t, want(st), pts)
	require.EqualValues(t, 1, st.Delivered)

	require.NoError(t, reg.Unregister())
	require.NoError(t, f.client.Enqueue(track("u2")))
	require.NoError(t, f.client.Flush(timeout(t)))
	assert.Empty(t, collect(t, reader), "series after Unregister")
	require.NoError(t, f.client.Close())
	f.fake.Close()
	require.NoError(t, mp.Shutdown(context.Background()))
}

// TestTwoClients: two clients observed through one provider, told apart
// by their attributes, each report their own Stats; unregistering one
// leaves the other reporting.
func TestTwoClients(t *testing.T) {
	defer goleak.VerifyNone(t)
	reader, mp := newReader()
	a, b := newFixture(t), newFixture(t)
	regA, err := otelanalytics.Observe(a.client, otelanalytics.WithMeterProvider(mp),
		otelanalytics.WithAttributes(attribute.String("cdp.source", "a")))
	require.NoError(t, err)
	regB, err := otelanalytics.Observe(b.client, otelanalytics.WithMeterProvider(mp),
		otelanalytics.WithAttributes(attribute.String("cdp.source", "b")))
	require.NoError(t, err)
	ctx := timeout(t)

	require.NoError(t, a.client.Enqueue(track("a1")))
	require.NoError(t, a.client.Flush(ctx))
	b.fake.Script(analyticstest.Response{Status: 400})
	require.NoError(t, b.client.Enqueue(track("b1")))
	require.Error(t, b.client.Flush(ctx))
	for _, u := range []string{"b2", "b3", "b4"} {
		require.NoError(t, b.client.Enqueue(track(u)))
	}
	require.NoError(t, b.client.Flush(ctx))
	require.ErrorIs(t, b.client.Enqueue(analytics.Track{}), analytics.ErrInvalidMessage)

	pts := collect(t, reader)
	stA, stB := a.client.Stats(), b.client.Stats()
	require.EqualValues(t, 1, stA.Delivered)
	require.EqualValues(t, 3, stB.Delivered)
	require.EqualValues(t, 1, stB.FailedStatus)
	assert.Equal(t, want(stA, "cdp.source=a"), only(pts, "cdp.source=a"))
	assert.Equal(t, want(stB, "cdp.source=b"), only(pts, "cdp.source=b"))
	assert.Len(t, pts, 2*len(want(stA)), "no series without a source")

	require.NoError(t, regA.Unregister())
	require.NoError(t, b.client.Enqueue(track("b5")))
	require.NoError(t, b.client.Flush(ctx))
	pts = collect(t, reader)
	assert.Empty(t, only(pts, "cdp.source=a"))
	assert.Equal(t, want(b.client.Stats(), "cdp.source=b"), pts)
	require.NoError(t, regB.Unregister())

	for _, f := range []*fixture{a, b} {
		require.NoError(t, f.client.Close())
		f.fake.Close()
	}
	require.NoError(t, mp.Shutdown(context.Background()))
}

// TestGlobalProvider: without WithMeterProvider, or with a nil one, the
// instruments go to the global provider.
func TestGlobalProvider(t *testing.T) {
	prev := otel.GetMeterProvider()
	t.Cleanup(func() { otel.SetMeterProvider(prev) })
	reader, mp := newReader()
	otel.SetMeterProvider(mp)
	f := newFixture(t)
	reg, err := otelanalytics.Observe(f.client, otelanalytics.WithMeterProvider(nil))
	require.NoError(t, err)
	defer func() { require.NoError(t, reg.Unregister()) }()

	require.NoError(t, f.client.Enqueue(track("u1")))
	require.NoError(t, f.client.Flush(timeout(t)))
	pts, st := collectStable(t, reader, f.client)
	require.EqualValues(t, 1, st.Delivered)
	assert.Equal(t, want(st), pts)
}

func TestObserveErrors(t *testing.T) {
	_, mp := newReader()
	f := newFixture(t)
	tests := []struct {
		name   string
		client *analytics.Client
		opts   []otelanalytics.Option
		want   string
	}{
		{"nil client", nil, nil, "otelanalytics: Observe: client is nil"},
		{"reserved outcome", f.client, []otelanalytics.Option{otelanalytics.WithAttributes(attribute.String("cdp.outcome", "x"))},
			`otelanalytics: WithAttributes: key "cdp.outcome" is reserved by otelanalytics`},
		{"reserved reason", f.client, []otelanalytics.Option{otelanalytics.WithAttributes(attribute.String("service.name", "s"), attribute.String("cdp.reason", "x"))},
			`otelanalytics: WithAttributes: key "cdp.reason" is reserved by otelanalytics`},
		{"empty key", f.client, []otelanalytics.Option{otelanalytics.WithAttributes(attribute.String("", "x"))},
			`otelanalytics: WithAttributes: attribute 0 (key "") is invalid`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]otelanalytics.Option{otelanalytics.WithMeterProvider(mp)}, tt.opts...)
			reg, err := otelanalytics.Observe(tt.client, opts...)
			require.EqualError(t, err, tt.want)
			assert.Nil(t, reg)
		})
	}
}

// TestAttributesCopied: the slice given to WithAttributes may be reused
// by the caller at once.
func TestAttributesCopied(t *testing.T) {
	reader, mp := newReader()
	f := newFixture(t)
	attrs := []attribute.KeyValue{attribute.String("cdp.source", "web")}
	opt := otelanalytics.WithAttributes(attrs...)
	attrs[0] = attribute.String("cdp.source", "changed")
	reg, err := otelanalytics.Observe(f.client, otelanalytics.WithMeterProvider(mp), opt)
	require.NoError(t, err)
	defer func() { require.NoError(t, reg.Unregister()) }()
	pts, st := collectStable(t, reader, f.client)
	assert.Equal(t, want(st, "cdp.source=web"), pts)
}

// TestSpoolLossReason: messages the spool lost (a damaged region of its
// files) are counted as failed with cdp.reason=spool, apart from the other
// reasons.
func TestSpoolLossReason(t *testing.T) {
	dir := t.TempDir()
	// Three messages kept in the spool: the API refuses the key.
	refusing := newFixture(t, analytics.WithSpool(dir), analytics.WithSpoolSync(0))
	refusing.fake.SetDefault(analyticstest.Response{Status: 401})
	for _, u := range []string{"a", "b", "c"} {
		require.NoError(t, refusing.client.Enqueue(track(u)))
	}
	_ = refusing.client.Close()
	// A byte of the first message's record flipped: a damaged region.
	segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	require.NoError(t, err)
	require.Len(t, segs, 1)
	data, err := os.ReadFile(segs[0])
	require.NoError(t, err)
	data[40] ^= 0xff
	require.NoError(t, os.WriteFile(segs[0], data, 0o600))

	reader, mp := newReader()
	f := newFixture(t, analytics.WithSpool(dir))
	reg, err := otelanalytics.Observe(f.client, otelanalytics.WithMeterProvider(mp))
	require.NoError(t, err)
	defer func() { require.NoError(t, reg.Unregister()) }()
	var de *analytics.DeliveryError
	require.ErrorAs(t, f.client.Flush(timeout(t)), &de)
	pts, st := collectStable(t, reader, f.client)
	assert.Equal(t, want(st), pts)
	assert.EqualValues(t, 1, st.FailedSpool)
	assert.EqualValues(t, 1, pts["cdp.client.messages{cdp.outcome=failed,cdp.reason=spool}"].value)
	assert.EqualValues(t, 2, st.Delivered)
}

// TestTransformOutcomes: the messages a transform drops on purpose are
// reported as cdp.outcome=filtered, apart from losses, and those a
// transform panics on as rejected with the reason transform; each equals
// its Stats field.
func TestTransformOutcomes(t *testing.T) {
	reader, mp := newReader()
	f := newFixture(t, analytics.WithLogger(slog.New(slog.DiscardHandler)), analytics.WithTransform(
		analytics.DropEvents("Noise"),
		func(e *analytics.Envelope) bool {
			if e.Event == "Boom" {
				panic("transform bug")
			}
			return true
		}))
	reg, err := otelanalytics.Observe(f.client, otelanalytics.WithMeterProvider(mp))
	require.NoError(t, err)
	defer func() { require.NoError(t, reg.Unregister()) }()

	for range 3 {
		require.NoError(t, f.client.Enqueue(analytics.Track{UserID: "u", Event: "Noise"}))
	}
	for range 2 {
		var te *analytics.TransformError
		require.ErrorAs(t, f.client.Enqueue(analytics.Track{UserID: "u", Event: "Boom"}), &te)
	}
	require.NoError(t, f.client.Enqueue(track("u1")))
	require.NoError(t, f.client.Flush(timeout(t)))

	pts, st := collectStable(t, reader, f.client)
	assert.Equal(t, want(st), pts)
	assert.EqualValues(t, 3, st.DroppedByTransform)
	assert.EqualValues(t, 2, st.RejectedByTransform)
	assert.EqualValues(t, 1, st.Delivered)
	assert.Equal(t, point{"sum", "{message}", 3}, pts["cdp.client.messages{cdp.outcome=filtered}"])
	assert.Equal(t, point{"sum", "{message}", 2}, pts["cdp.client.messages{cdp.outcome=rejected,cdp.reason=transform}"])
}
