package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

// roundTripMessages are messages of every kind, core calls and typed
// helpers, with explicit ids and times, so that a direct send and a send of
// the WithOutput lines can be compared message by message.
func roundTripMessages() []analytics.Message {
	ts := time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	ctx := &analytics.Context{
		IP: "203.0.113.7", Locale: "en-US", Channel: analytics.ChannelServer,
		Page:     &analytics.PageInfo{Path: "/cart", URL: "https://example.com/cart", Keywords: []string{"cart"}},
		Device:   &analytics.DeviceInfo{Manufacturer: "Apple", Model: "iPhone16,1"},
		Location: &analytics.LocationInfo{City: "Berlin", Latitude: analytics.Ptr(52.52)},
		Screen:   &analytics.ScreenInfo{Width: 1179, Density: 3},
		Traits:   analytics.Traits{"plan": "pro"},
		Extra:    map[string]any{"tenant": "acme"},
	}
	return []analytics.Message{
		analytics.Identify{UserID: "u1", Traits: analytics.Traits{"email": "ada@example.com", "logins": 42, "verified": true},
			ObjectID: "acme", ObjectTypeID: "2", RelationshipAttributes: map[string]any{"role": "admin"},
			Timestamp: ts, Context: ctx, Integrations: analytics.Integrations{"All": true}, MessageID: "rt-identify"},
		analytics.Track{UserID: "u1", Event: "  Course Started ", Properties: analytics.Properties{"title": "Intro", "tags": []string{"a"}, "n": map[string]any{"x": nil}},
			Timestamp: ts, Context: ctx, MessageID: "rt-track"},
		analytics.Page{AnonymousID: "a1", Name: "Docs", Category: "Help", Properties: analytics.Properties{"url": "https://example.com/docs"},
			Timestamp: ts, MessageID: "rt-page"},
		analytics.Screen{UserID: "u1", Name: "Feed", Timestamp: ts, MessageID: "rt-screen"},
		analytics.Group{UserID: "u1", GroupID: "acme", ObjectTypeID: "2", Traits: analytics.Traits{"name": "ACME"},
			RelationshipAttributes: map[string]any{"role": "owner"}, Timestamp: ts, MessageID: "rt-group"},
		analytics.Alias{UserID: "u2", PreviousID: "u1", Timestamp: ts, MessageID: "rt-alias"},
		analytics.OrderCompleted{UserID: "u1", OrderID: "o1", Total: analytics.Ptr(27.5), Currency: "EUR",
			Products: []analytics.Product{{ProductID: "p1", Price: analytics.Ptr(19.0), Quantity: analytics.Ptr(1)}, {ProductID: "p2", Price: analytics.Ptr(0.0)}},
			Extra:    analytics.Properties{"coupon_code": "SPRING"}, Timestamp: ts, Context: ctx, MessageID: "rt-order"},
		analytics.DeletePerson{Email: "gone@example.com", Timestamp: ts, MessageID: "rt-delete"},
		analytics.CreateOrUpdateDevice{UserID: "u1", Device: analytics.Device{Token: "tok", Type: analytics.DeviceTypeIOS},
			Context: ctx, Timestamp: ts, MessageID: "rt-device"},
		analytics.ApplicationOpened{UserID: "u1", Version: "2.0", DeviceToken: "tok", DeviceType: analytics.DeviceTypeIOS,
			FromBackground: analytics.Ptr(false), Timestamp: ts, MessageID: "rt-opened"},
		analytics.VideoPlaybackStarted{UserID: "u1", SessionID: "s1", Sound: analytics.Ptr(80), AdType: analytics.AdTypePreRoll,
			Timestamp: ts, MessageID: "rt-video"},
	}
}

// TestOutputLinesImportLikeADirectSend: the lines a client writes with
// WithOutput, sent later with `cdp import`, reach the API (the fake) as
// the same messages as a direct send of what the client was given: same
// ids, times, events, properties, traits and context.
func TestOutputLinesImportLikeADirectSend(t *testing.T) {
	msgs := roundTripMessages()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Directly to the fake.
	direct := newServer(t)
	c, err := analytics.New(testKey, analytics.WithEndpoint(direct.URL))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := c.Enqueue(m); err != nil {
			t.Fatalf("%T: %v", m, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// To a file, without a key, and then with cdp import.
	var lines bytes.Buffer
	out, err := analytics.New("", analytics.WithOutput(&lines))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := out.Enqueue(m); err != nil {
			t.Fatalf("%T: %v", m, err)
		}
	}
	if err := out.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(file, lines.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	imported := newServer(t)
	if r := cdp(t, "", "import", "--endpoint", imported.URL, file); r.code != exitOK {
		t.Fatalf("cdp import:\n%s", r)
	}

	want, got := byID(t, direct), byID(t, imported)
	if len(want) != len(msgs) || len(got) != len(msgs) {
		t.Fatalf("direct send delivered %d, import %d, of %d messages", len(want), len(got), len(msgs))
	}
	for id, w := range want {
		if !reflect.DeepEqual(w, got[id]) {
			wj, _ := json.MarshalIndent(w, "", "  ")
			gj, _ := json.MarshalIndent(got[id], "", "  ")
			t.Errorf("%s differs:\ndirect: %s\nimport: %s", id, wj, gj)
		}
	}
	if n := strings.Count(lines.String(), "\n"); n != len(msgs) {
		t.Errorf("%d lines written, want %d", n, len(msgs))
	}
}

// byID returns the messages the fake accepted, decoded, by messageId.
func byID(t *testing.T, srv *analyticstest.Server) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, m := range srv.Messages() {
		var v map[string]any
		if err := json.Unmarshal(m.Raw, &v); err != nil {
			t.Fatal(err)
		}
		out[m.MessageID] = v
	}
	return out
}
