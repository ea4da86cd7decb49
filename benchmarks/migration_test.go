package benchmarks

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	segment "gopkg.in/segmentio/analytics-go.v3"
)

// The README's "Coming from customerio/cdp-analytics-go or Segment's
// analytics-go v3" maps their API to this library's, call by call and
// option by option. These tests check each row against Segment's
// analytics-go v3.1.0 itself, compiled beside this library: both sides of
// a row run against the public fake (analyticstest) and what reaches the
// API is compared. customerio/cdp-analytics-go is a fork of it with the
// same API (its config.go, analytics.go, track.go, traits.go, properties.go
// were read for the table); it is not on the Go module proxy, so it is not
// compiled here.

// migrationKey is the API key both sides send with.
const migrationKey = "migration-key"

// segmentTo returns a Segment client that sends to tr, with cfg's other
// fields as given.
func segmentTo(t *testing.T, tr http.RoundTripper, cfg segment.Config) segment.Client {
	t.Helper()
	cfg.Endpoint = "http://127.0.0.1:1" // posts to <Endpoint>/v1/batch
	cfg.Transport = tr
	if cfg.Logger == nil {
		cfg.Logger = silentLogger{}
	}
	c, err := segment.NewWithConfig(migrationKey, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// oursTo returns a client of this library that sends to tr, with opts.
func oursTo(t *testing.T, tr *analyticstest.Transport, opts ...analytics.Option) *analytics.Client {
	t.Helper()
	opts = append([]analytics.Option{
		analytics.WithEndpoint("http://127.0.0.1:1"),
		analytics.WithHTTPClient(tr.Client()),
		analytics.WithLogger(slog.New(slog.DiscardHandler)),
	}, opts...)
	c, err := analytics.New(migrationKey, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMigrationMessages: each message of Segment's API and its
// counterpart here reach the API with the same fields, but where the
// table says they differ.
func TestMigrationMessages(t *testing.T) {
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	rows := []struct {
		name   string
		theirs segment.Message
		ours   analytics.Message
	}{
		{"Track, UserId → UserID, NewProperties().SetRevenue() → Properties",
			segment.Track{UserId: "u1", Event: "Plan Upgraded",
				Properties: segment.NewProperties().SetRevenue(10).SetCurrency("USD").Set("plan", "pro")},
			analytics.Track{UserID: "u1", Event: "Plan Upgraded",
				Properties: analytics.Properties{"revenue": 10.0, "currency": "USD", "plan": "pro"}}},
		{"Track, AnonymousId → AnonymousID, MessageId → MessageID, Timestamp",
			segment.Track{AnonymousId: "a1", Event: "Viewed", MessageId: "m-1", Timestamp: at},
			analytics.Track{AnonymousID: "a1", Event: "Viewed", MessageID: "m-1", Timestamp: at}},
		{"Identify, NewTraits().SetEmail() → Traits",
			segment.Identify{UserId: "u1", Traits: segment.NewTraits().SetEmail("ada@example.com").SetName("Ada").SetAge(36)},
			analytics.Identify{UserID: "u1", Traits: analytics.Traits{"email": "ada@example.com", "name": "Ada", "age": 36}}},
		{"Group, GroupId → GroupID",
			segment.Group{UserId: "u1", GroupId: "acme", Traits: segment.NewTraits().SetName("Acme")},
			analytics.Group{UserID: "u1", GroupID: "acme", Traits: analytics.Traits{"name": "Acme"}}},
		{"Alias, PreviousId → PreviousID",
			segment.Alias{PreviousId: "a1", UserId: "u1"},
			analytics.Alias{PreviousID: "a1", UserID: "u1"}},
		{"Page",
			segment.Page{UserId: "u1", Name: "Pricing", Properties: segment.NewProperties().SetURL("https://example.com/pricing")},
			analytics.Page{UserID: "u1", Name: "Pricing", Properties: analytics.Properties{"url": "https://example.com/pricing"}}},
		{"Screen",
			segment.Screen{UserId: "u1", Name: "Home"},
			analytics.Screen{UserID: "u1", Name: "Home"}},
		{"NewIntegrations().EnableAll().Disable() → Integrations",
			segment.Track{UserId: "u1", Event: "Routed", Integrations: segment.NewIntegrations().EnableAll().Disable("Salesforce")},
			analytics.Track{UserID: "u1", Event: "Routed", Integrations: analytics.Integrations{"all": true, "Salesforce": false}}},
		{"Context{IP: net.IP} → Context{IP: string}",
			segment.Track{UserId: "u1", Event: "Located", Context: &segment.Context{IP: net.ParseIP("203.0.113.7"), Locale: "de-DE"}},
			analytics.Track{UserID: "u1", Event: "Located", Context: &analytics.Context{IP: "203.0.113.7", Locale: "de-DE"}}},
	}

	theirsAPI := analyticstest.NewTransport(t, analyticstest.WithViolationsAllowed())
	oursAPI := analyticstest.NewTransport(t)
	sc := segmentTo(t, theirsAPI, segment.Config{})
	oc := oursTo(t, oursAPI)
	for _, r := range rows {
		if err := sc.Enqueue(r.theirs); err != nil {
			t.Fatalf("%s: Segment's Enqueue: %v", r.name, err)
		}
		if err := oc.Enqueue(r.ours); err != nil {
			t.Fatalf("%s: Enqueue: %v", r.name, err)
		}
	}
	if err := sc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := oc.Close(); err != nil {
		t.Fatal(err)
	}
	theirs, ours := theirsAPI.Messages(), oursAPI.Messages()
	if len(theirs) != len(rows) || len(ours) != len(rows) {
		t.Fatalf("the API got %d of Segment's messages and %d of ours, want %d each", len(theirs), len(ours), len(rows))
	}
	for i, r := range rows {
		a, b := theirs[i], ours[i]
		if a.Type != b.Type || a.UserID != b.UserID || a.AnonymousID != b.AnonymousID || a.Event != b.Event ||
			a.Name != b.Name || a.GroupID != b.GroupID || a.PreviousID != b.PreviousID {
			t.Errorf("%s: Segment sent %s %q/%q %q, this library %s %q/%q %q", r.name,
				a.Type, a.UserID, a.AnonymousID, a.Event+a.Name+a.GroupID+a.PreviousID,
				b.Type, b.UserID, b.AnonymousID, b.Event+b.Name+b.GroupID+b.PreviousID)
		}
		for what, pair := range map[string][2]map[string]any{
			"properties":   {a.Properties, b.Properties},
			"traits":       {a.Traits, b.Traits},
			"integrations": {a.Integrations, b.Integrations},
		} {
			if len(pair[0])+len(pair[1]) > 0 && !reflect.DeepEqual(pair[0], pair[1]) {
				t.Errorf("%s: %s differ: Segment %v, this library %v", r.name, what, pair[0], pair[1])
			}
		}
		for _, k := range []string{"ip", "locale"} {
			if a.Context[k] != b.Context[k] {
				t.Errorf("%s: context.%s: Segment %v, this library %v", r.name, k, a.Context[k], b.Context[k])
			}
		}
	}
	// A message id and a timestamp given are sent as given.
	if theirs[1].MessageID != "m-1" || ours[1].MessageID != "m-1" || !theirs[1].Timestamp.Equal(at) || !ours[1].Timestamp.Equal(at) {
		t.Errorf("messageId and timestamp: Segment %q %v, this library %q %v", theirs[1].MessageID, theirs[1].Timestamp, ours[1].MessageID, ours[1].Timestamp)
	}
}

// TestMigrationTypedHelperKeys: Segment's property setters use its own
// keys (SetOrderId → "orderId", SetProductId → "id"); the typed helpers
// send the specification's ("order_id", "product_id"), as Customer.io's
// ecommerce events expect. The same keys in a Properties map are sent as
// written.
func TestMigrationTypedHelperKeys(t *testing.T) {
	theirsAPI := analyticstest.NewTransport(t, analyticstest.WithViolationsAllowed())
	oursAPI := analyticstest.NewTransport(t)
	sc := segmentTo(t, theirsAPI, segment.Config{})
	oc := oursTo(t, oursAPI)
	if err := sc.Enqueue(segment.Track{UserId: "u1", Event: "Order Completed",
		Properties: segment.NewProperties().SetOrderId("o-1").SetRevenue(25).SetCurrency("USD")}); err != nil {
		t.Fatal(err)
	}
	if err := oc.Enqueue(analytics.OrderCompleted{UserID: "u1", OrderID: "o-1", Revenue: analytics.Ptr(25.0), Currency: "USD"}); err != nil {
		t.Fatal(err)
	}
	if err := oc.Enqueue(analytics.Track{UserID: "u1", Event: "Order Completed",
		Properties: analytics.Properties{"orderId": "o-1", "revenue": 25.0, "currency": "USD"}}); err != nil {
		t.Fatal(err)
	}
	_ = sc.Close()
	if err := oc.Close(); err != nil {
		t.Fatal(err)
	}
	theirs, ours := theirsAPI.Messages(), oursAPI.Messages()
	if len(theirs) != 1 || len(ours) != 2 {
		t.Fatalf("got %d and %d messages, want 1 and 2", len(theirs), len(ours))
	}
	if theirs[0].Properties["orderId"] != "o-1" || ours[0].Properties["order_id"] != "o-1" || ours[0].Properties["orderId"] != nil {
		t.Errorf("order id: Segment's setter %v, the typed helper %v", theirs[0].Properties, ours[0].Properties)
	}
	if !reflect.DeepEqual(theirs[0].Properties, ours[1].Properties) {
		t.Errorf("the same map: Segment %v, this library %v", theirs[0].Properties, ours[1].Properties)
	}
}

// countingCallback is Segment's Callback, counting outcomes.
type countingCallback struct {
	mu                 sync.Mutex
	successes, failure int
}

func (c *countingCallback) Success(segment.Message) { c.mu.Lock(); c.successes++; c.mu.Unlock() }
func (c *countingCallback) Failure(segment.Message, error) {
	c.mu.Lock()
	c.failure++
	c.mu.Unlock()
}

// TestMigrationConfig: Config's fields and their options here.
func TestMigrationConfig(t *testing.T) {
	// Config.Endpoint (a bare host) → WithEndpoint (or WithRegion): both
	// post to <host>/v1/batch. Config.Transport → WithHTTPClient.
	// Config.BatchSize → WithBatchSize. Config.Callback → WithCallback.
	t.Run("Endpoint, Transport, BatchSize, Callback", func(t *testing.T) {
		theirsAPI := analyticstest.NewTransport(t, analyticstest.WithViolationsAllowed())
		oursAPI := analyticstest.NewTransport(t)
		cb := &countingCallback{}
		sc := segmentTo(t, theirsAPI, segment.Config{BatchSize: 2, Callback: cb})
		var mu sync.Mutex
		var results []analytics.Result
		oc := oursTo(t, oursAPI, analytics.WithBatchSize(2), analytics.WithCallback(func(r analytics.Result) {
			mu.Lock()
			results = append(results, r)
			mu.Unlock()
		}))
		for i := range 4 {
			_ = sc.Enqueue(segment.Track{UserId: "u", Event: "E", Properties: segment.NewProperties().Set("i", i)})
			_ = oc.Enqueue(analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"i": i}})
		}
		_ = sc.Close()
		if err := oc.Close(); err != nil {
			t.Fatal(err)
		}
		for side, reqs := range map[string][]analyticstest.Request{"Segment": theirsAPI.Requests(), "this library": oursAPI.Requests()} {
			if len(reqs) != 2 || reqs[0].Path != "/v1/batch" || len(reqs[0].Messages) != 2 {
				t.Errorf("%s: %d requests (want 2 of 2 messages, to /v1/batch)", side, len(reqs))
			}
		}
		if cb.successes != 4 || len(results) != 4 || results[0].Err != nil {
			t.Errorf("callbacks: Segment %d successes, this library %d results", cb.successes, len(results))
		}
	})

	// Config.Interval → WithFlushInterval: without Close, a message is
	// sent at the interval.
	t.Run("Interval", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			theirsAPI := analyticstest.NewTransport(t, analyticstest.WithViolationsAllowed())
			oursAPI := analyticstest.NewTransport(t)
			sc := segmentTo(t, theirsAPI, segment.Config{Interval: time.Second})
			oc := oursTo(t, oursAPI, analytics.WithFlushInterval(time.Second))
			_ = sc.Enqueue(segment.Track{UserId: "u", Event: "E"})
			_ = oc.Enqueue(analytics.Track{UserID: "u", Event: "E"})
			time.Sleep(1500 * time.Millisecond)
			synctest.Wait()
			if n, m := len(theirsAPI.Messages()), len(oursAPI.Messages()); n != 1 || m != 1 {
				t.Errorf("after 1.5s: Segment sent %d, this library %d; want 1 each", n, m)
			}
			_ = sc.Close()
			_ = oc.Close()
		})
	})

	// Config.RetryAfter (a wait per retry; 10 attempts, fixed) →
	// WithRetry(RetryPolicy{...}).
	t.Run("RetryAfter", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			theirsAPI := analyticstest.NewTransport(t, analyticstest.WithViolationsAllowed())
			oursAPI := analyticstest.NewTransport(t)
			theirsAPI.SetDefault(analyticstest.Response{Status: 503})
			oursAPI.SetDefault(analyticstest.Response{Status: 503})
			sc := segmentTo(t, theirsAPI, segment.Config{RetryAfter: func(int) time.Duration { return time.Second }})
			oc := oursTo(t, oursAPI, analytics.WithRetry(analytics.RetryPolicy{MaxAttempts: 10, WaitMin: time.Second, WaitMax: time.Second}))
			_ = sc.Enqueue(segment.Track{UserId: "u", Event: "E"})
			_ = oc.Enqueue(analytics.Track{UserID: "u", Event: "E"})
			// Segment has no Flush; its batch goes at the interval.
			time.Sleep(segment.DefaultInterval + 20*time.Second)
			synctest.Wait()
			var de *analytics.DeliveryError
			if err := oc.Flush(context.Background()); !errors.As(err, &de) {
				t.Errorf("Flush = %v, want a DeliveryError", err)
			}
			_ = sc.Close()
			_ = oc.Close()
			if n, m := len(theirsAPI.Requests()), len(oursAPI.Requests()); n != 10 || m != 10 {
				t.Errorf("attempts: Segment %d, this library %d; want 10 each", n, m)
			}
		})
	})

	// Config.DefaultContext → WithDefaultContext: Segment sends it once
	// per batch, beside the messages; this library in every message, as
	// Customer.io's API reference shows.
	t.Run("DefaultContext", func(t *testing.T) {
		theirsAPI := analyticstest.NewTransport(t, analyticstest.WithViolationsAllowed())
		oursAPI := analyticstest.NewTransport(t)
		sc := segmentTo(t, theirsAPI, segment.Config{DefaultContext: &segment.Context{App: segment.AppInfo{Name: "shop"}}})
		oc := oursTo(t, oursAPI, analytics.WithDefaultContext(analytics.Context{App: &analytics.AppInfo{Name: "shop"}}))
		_ = sc.Enqueue(segment.Track{UserId: "u", Event: "E"})
		_ = oc.Enqueue(analytics.Track{UserID: "u", Event: "E"})
		_ = sc.Close()
		_ = oc.Close()
		theirs, ours := theirsAPI.Requests(), oursAPI.Requests()
		if len(theirs) != 1 || len(ours) != 1 {
			t.Fatalf("%d and %d requests, want 1 each", len(theirs), len(ours))
		}
		if !strings.Contains(string(theirs[0].Body), `"context":{"app":{"name":"shop"}`) || theirs[0].Messages[0].Context["app"] != nil {
			t.Errorf("Segment's default context is not at the batch level: %s", theirs[0].Body)
		}
		if app, _ := ours[0].Messages[0].Context["app"].(map[string]any); app["name"] != "shop" {
			t.Errorf("this library's default context is not in the message: %s", ours[0].Body)
		}
	})
}

// TestMigrationBehaviour: what changes beyond the names.
func TestMigrationBehaviour(t *testing.T) {
	// An invalid message: Segment's FieldError, this library's
	// *ValidationError (errors.Is ErrInvalidMessage), which names the
	// field by its wire path.
	t.Run("invalid message", func(t *testing.T) {
		sc := segmentTo(t, analyticstest.NewTransport(t), segment.Config{})
		oc := oursTo(t, analyticstest.NewTransport(t))
		var fe segment.FieldError
		if err := sc.Enqueue(segment.Track{UserId: "u"}); !errors.As(err, &fe) {
			t.Errorf("Segment: %v, want a FieldError", err)
		}
		var ve *analytics.ValidationError
		if err := oc.Enqueue(analytics.Track{UserID: "u"}); !errors.As(err, &ve) || ve.Field != "event" || !errors.Is(err, analytics.ErrInvalidMessage) {
			t.Errorf("this library: %v, want a ValidationError for event", err)
		}
		_ = sc.Close()
		_ = oc.Close()
	})

	// A message over 32 KB: Segment accepts it and reports it to the
	// callback later; this library refuses it in Enqueue.
	t.Run("message too large", func(t *testing.T) {
		cb := &countingCallback{}
		sc := segmentTo(t, analyticstest.NewTransport(t), segment.Config{Callback: cb})
		oc := oursTo(t, analyticstest.NewTransport(t))
		big := strings.Repeat("x", 40_000)
		if err := sc.Enqueue(segment.Track{UserId: "u", Event: "E", Properties: segment.NewProperties().Set("big", big)}); err != nil {
			t.Errorf("Segment's Enqueue: %v, want nil", err)
		}
		if err := oc.Enqueue(analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"big": big}}); !errors.Is(err, analytics.ErrMessageTooLarge) {
			t.Errorf("Enqueue: %v, want ErrMessageTooLarge", err)
		}
		_ = sc.Close()
		_ = oc.Close()
		if cb.failure != 1 {
			t.Errorf("Segment's callback got %d failures, want 1", cb.failure)
		}
	})

	// Close with messages the API refuses: Segment's Close returns nil
	// (the losses went to the callback and the log); this library's
	// returns a *DeliveryError counting them. Strict mode makes the API
	// refuse an invalid call with 400 instead of 200.
	t.Run("Close reports losses; strict mode", func(t *testing.T) {
		theirsAPI := analyticstest.NewTransport(t, analyticstest.WithViolationsAllowed())
		oursAPI := analyticstest.NewTransport(t)
		theirsAPI.SetDefault(analyticstest.Response{Status: 400})
		oursAPI.SetDefault(analyticstest.Response{Status: 400})
		sc := segmentTo(t, theirsAPI, segment.Config{})
		oc := oursTo(t, oursAPI)
		_ = sc.Enqueue(segment.Track{UserId: "u", Event: "E"})
		_ = oc.Enqueue(analytics.Track{UserID: "u", Event: "E"})
		if err := sc.Close(); err != nil {
			t.Errorf("Segment's Close = %v, want nil", err)
		}
		var de *analytics.DeliveryError
		if err := oc.Close(); !errors.As(err, &de) || de.Undelivered != 1 {
			t.Errorf("Close = %v, want a DeliveryError for 1 message", err)
		}
		if h := oursAPI.Requests()[0].Header.Get("X-Strict-Mode"); h != "1" {
			t.Errorf("X-Strict-Mode %q, want 1", h)
		}
		if h := theirsAPI.Requests()[0].Header.Get("X-Strict-Mode"); h != "" {
			t.Errorf("Segment sent X-Strict-Mode %q", h)
		}
	})

	// After Close, both refuse with ErrClosed; a second Close is an
	// error in Segment's, the first result again in this library.
	t.Run("closed", func(t *testing.T) {
		sc := segmentTo(t, analyticstest.NewTransport(t), segment.Config{})
		oc := oursTo(t, analyticstest.NewTransport(t))
		_ = sc.Close()
		_ = oc.Close()
		if err := sc.Enqueue(segment.Track{UserId: "u", Event: "E"}); !errors.Is(err, segment.ErrClosed) {
			t.Errorf("Segment after Close: %v", err)
		}
		if err := oc.Enqueue(analytics.Track{UserID: "u", Event: "E"}); !errors.Is(err, analytics.ErrClosed) {
			t.Errorf("after Close: %v", err)
		}
		if err := sc.Close(); !errors.Is(err, segment.ErrClosed) {
			t.Errorf("Segment's second Close: %v, want ErrClosed", err)
		}
		if err := oc.Close(); err != nil {
			t.Errorf("second Close: %v, want the first's result, nil", err)
		}
	})
}
