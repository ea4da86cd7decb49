package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

const wantOffline = `CDP_API_KEY is not set: sending to a fake Data Pipelines API in process
invocation 1: order o-1001 handled, 0 messages pending, 1 delivered so far
invocation 2: order o-1002 handled, 0 messages pending, 2 delivered so far
invocation 3: order o-1003 handled, 0 messages pending, 3 delivered so far
the fake API received 3 Order Completed events in 3 requests
`

func TestOffline(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, config{region: analytics.RegionUS}); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if got := out.String(); got != wantOffline {
		t.Errorf("output:\n%s\nwant:\n%s", got, wantOffline)
	}
}

// TestWithKey runs the path taken with CDP_API_KEY set, against a fake
// that checks the key.
func TestWithKey(t *testing.T) {
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey("real-key"))
	var out bytes.Buffer
	if err := run(context.Background(), &out, config{apiKey: "real-key", region: analytics.RegionUS, endpoint: srv.URL}); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if got := len(srv.ByEvent("Order Completed")); got != len(events) {
		t.Errorf("received %d Order Completed events, want %d", got, len(events))
	}
	if strings.Contains(out.String(), "real-key") {
		t.Errorf("the output shows the API key:\n%s", out.String())
	}
}

// newHandler returns a handler whose client only sends when flushed (its
// flush interval is an hour), so what the fake holds when Handle returns
// was sent by Handle's Flush. Call it inside the synctest bubble when the
// test uses one.
func newHandler(t *testing.T, logs *bytes.Buffer) (*Handler, *analyticstest.Transport) {
	t.Helper()
	fake := analyticstest.NewTransport(t)
	opts := append(clientOptions(),
		analytics.WithEndpoint(fake.URL), analytics.WithHTTPClient(fake.Client()),
		analytics.WithFlushInterval(time.Hour))
	client, err := analytics.New("test-key", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	h := &Handler{Client: client}
	if logs != nil {
		h.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	return h, fake
}

// TestHandleDeliversBeforeReturning: when Handle returns, its event has
// reached the API, so a frozen process holds nothing back.
func TestHandleDeliversBeforeReturning(t *testing.T) {
	h, fake := newHandler(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := h.Handle(ctx, Event{UserID: "42", OrderID: "o-1", Total: 25})
	if err != nil {
		t.Fatal(err)
	}
	if resp.OrderID != "o-1" || resp.Pending != 0 {
		t.Errorf("response %+v, want order o-1 and nothing pending", resp)
	}
	orders := fake.ByEvent("Order Completed") // no waiting: it is there already
	if len(orders) != 1 || orders[0].UserID != "42" {
		t.Fatalf("received %v, want one Order Completed for user 42", orders)
	}
	if got := orders[0].Properties["order_id"]; got != "o-1" {
		t.Errorf("order_id %v, want o-1", got)
	}
}

// TestHandleDeadline: when the API hangs, Handle returns at the
// invocation's deadline less the headroom, without an error, reporting
// the message as pending; the next invocation delivers it with its own.
func TestHandleDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		h, fake := newHandler(t, &logs)
		fake.SetDefault(analyticstest.Response{Delay: time.Hour}) // every attempt times out

		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		start := time.Now()
		resp, err := h.Handle(ctx, Event{UserID: "42", OrderID: "o-1", Total: 25})
		took := time.Since(start)
		cancel()
		if err != nil {
			t.Fatalf("Handle: %v", err)
		}
		if want := 3*time.Second - DefaultHeadroom; took != want {
			t.Errorf("Handle returned after %v, want %v (the deadline less the headroom)", took, want)
		}
		if resp.Pending != 1 {
			t.Errorf("pending %d, want 1", resp.Pending)
		}
		if !strings.Contains(logs.String(), "not everything was delivered") {
			t.Errorf("no warning logged:\n%s", logs.String())
		}

		// The API recovers; the next warm invocation reuses the client.
		fake.SetDefault(analyticstest.Response{})
		ctx, cancel = context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		resp, err = h.Handle(ctx, Event{UserID: "43", OrderID: "o-2", Total: 10})
		if err != nil {
			t.Fatalf("Handle: %v", err)
		}
		if resp.Pending != 0 {
			t.Errorf("second invocation: pending %d, want 0", resp.Pending)
		}
		var users []string
		for _, m := range fake.ByEvent("Order Completed") {
			users = append(users, m.UserID)
		}
		if len(users) != 2 {
			t.Errorf("delivered orders of users %v, want 42 and 43", users)
		}
		if st := h.Client.Stats(); st.Retries == 0 || st.Failed != 0 {
			t.Errorf("stats %+v: want the first message retried and nothing failed", st)
		}
	})
}

func TestFlushContext(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	withDeadline, cancel := context.WithDeadline(context.Background(), base)
	defer cancel()
	tests := []struct {
		name     string
		h        Handler
		ctx      context.Context
		deadline time.Time // zero: about FlushTimeout from now
		timeout  time.Duration
	}{
		{"default headroom", Handler{}, withDeadline, base.Add(-DefaultHeadroom), 0},
		{"own headroom", Handler{Headroom: 2 * time.Second}, withDeadline, base.Add(-2 * time.Second), 0},
		{"no deadline", Handler{}, context.Background(), time.Time{}, DefaultFlushTimeout},
		{"own flush timeout", Handler{FlushTimeout: 7 * time.Second}, context.Background(), time.Time{}, 7 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Now()
			ctx, cancel := tt.h.flushContext(tt.ctx)
			defer cancel()
			got, ok := ctx.Deadline()
			if !ok {
				t.Fatal("no deadline")
			}
			if tt.timeout == 0 {
				if !got.Equal(tt.deadline) {
					t.Errorf("deadline %v, want %v", got, tt.deadline)
				}
				return
			}
			if d := got.Sub(now); d < tt.timeout || d > tt.timeout+time.Second {
				t.Errorf("deadline in %v, want %v", d, tt.timeout)
			}
		})
	}
}

func TestHandleBadEvent(t *testing.T) {
	h, fake := newHandler(t, nil)
	for ev, want := range map[Event]string{
		{OrderID: "o-1"}: "lambda: event: userId is empty",
		{UserID: "42"}:   "lambda: event: orderId is empty",
	} {
		if _, err := h.Handle(context.Background(), ev); err == nil || err.Error() != want {
			t.Errorf("Handle(%+v) = %v, want %q", ev, err, want)
		}
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests for bad events", n)
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{"CDP_API_KEY": " k ", "CDP_REGION": "EU"}
	cfg, err := configFromEnv(func(k string) string { return env[k] })
	if err != nil || cfg.apiKey != "k" || cfg.region != analytics.RegionEU {
		t.Errorf("configFromEnv = %+v, %v", cfg, err)
	}
	env["CDP_REGION"] = "mars"
	if _, err := configFromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "CDP_REGION") {
		t.Errorf("bad region: err = %v", err)
	}
}
