package analyticstest_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

func ptr[T any](v T) *T { return &v }

// fullContext sets every field of a Context. Numbers in maps are float64,
// as they decode.
func fullContext() *analytics.Context {
	return &analytics.Context{
		Active:    ptr(false),
		IP:        "203.0.113.7",
		Locale:    "fr-FR",
		UserAgent: "Mozilla/5.0",
		Channel:   analytics.ChannelServer,
		Timezone:  "Europe/Paris",
		GroupID:   "acme",
		Campaign:  &analytics.CampaignInfo{Name: "spring", Source: "news", Medium: "email", Term: "t", Content: "c", Extra: map[string]any{"utm_id": "7"}},
		Page:      &analytics.PageInfo{Name: "Home", Path: "/", Referrer: "r", Search: "?q", Title: "T", URL: "https://example.com/", Keywords: []string{"a", "b"}},
		App:       &analytics.AppInfo{Name: "app", Version: "1.2", Build: "34", Namespace: "com.example"},
		Device:    &analytics.DeviceInfo{ID: "d1", Manufacturer: "Apple", Model: "iPhone", Name: "phone", Type: "ios", Token: "tok", AdvertisingID: "ad", AdTrackingEnabled: ptr(true)},
		OS:        &analytics.OSInfo{Name: "iOS", Version: "18"},
		Network:   &analytics.NetworkInfo{Bluetooth: ptr(false), Cellular: ptr(true), WiFi: ptr(true), Carrier: "Orange"},
		Location:  &analytics.LocationInfo{City: "Paris", Country: "FR", Region: "IDF", Latitude: ptr(48.85), Longitude: ptr(2.35), Speed: ptr(0.0)},
		Screen:    &analytics.ScreenInfo{Width: 390, Height: 844, Density: 3},
		Referrer:  &analytics.ReferrerInfo{Type: "link", Name: "n", URL: "https://r.example", Link: "l", ID: "r1"},
		Traits:    analytics.Traits{"email": "ada@example.com"},
		Extra:     map[string]any{"custom": map[string]any{"nested": 1.5}},
	}
}

// roundTrip sends msg through a real client to the fake and returns the one
// message received.
func roundTrip(t *testing.T, msg analytics.Message) analyticstest.Message {
	t.Helper()
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey))
	client := newClient(t, srv.URL)
	enqueue(t, client, msg)
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("received %v", msgs)
	}
	return msgs[0]
}

// checkRoundTrip decodes the message into a new value of want's type and
// compares it with want.
func checkRoundTrip[T any](t *testing.T, m analyticstest.Message, want T) {
	t.Helper()
	got, err := analyticstest.As[T](m)
	if err != nil {
		t.Fatalf("As: %v\nraw: %s", err, m.Raw)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded\n%#v\nwant\n%#v\nraw: %s", got, want, m.Raw)
	}
}

func TestAsCore(t *testing.T) {
	ints := analytics.Integrations{"All": false, "Customer.io": true}
	t.Run("Identify", func(t *testing.T) {
		msg := analytics.Identify{UserID: "42", AnonymousID: "a-1", Traits: analytics.Traits{"plan": "pro", "seats": 3.0},
			Context: fullContext(), Integrations: ints, MessageID: "id-1", Timestamp: fixedTime.Add(-time.Second)}
		checkRoundTrip(t, roundTrip(t, msg), msg)
	})
	t.Run("Track", func(t *testing.T) {
		msg := analytics.Track{UserID: "42", Event: "Order Completed", Properties: analytics.Properties{"total": 30.5, "items": []any{"a", 1.0}}}
		m := roundTrip(t, msg)
		msg.MessageID, msg.Timestamp = "m1", fixedTime // filled in by the client
		checkRoundTrip(t, m, msg)
	})
	t.Run("Page", func(t *testing.T) {
		msg := analytics.Page{AnonymousID: "a-1", Name: "Pricing", Properties: analytics.Properties{"path": "/pricing"}, MessageID: "p", Timestamp: fixedTime}
		checkRoundTrip(t, roundTrip(t, msg), msg)
	})
	t.Run("Screen", func(t *testing.T) {
		msg := analytics.Screen{UserID: "42", Name: "Feed", MessageID: "s", Timestamp: fixedTime, Context: &analytics.Context{IP: "::1"}}
		checkRoundTrip(t, roundTrip(t, msg), msg)
	})
	t.Run("Group", func(t *testing.T) {
		msg := analytics.Group{UserID: "42", GroupID: "acme", ObjectTypeID: "2", Traits: analytics.Traits{"name": "Acme"},
			RelationshipAttributes: map[string]any{"role": "admin"}, MessageID: "g", Timestamp: fixedTime}
		checkRoundTrip(t, roundTrip(t, msg), msg)
	})
	t.Run("Alias", func(t *testing.T) {
		msg := analytics.Alias{UserID: "42", PreviousID: "a-1", MessageID: "al", Timestamp: fixedTime}
		checkRoundTrip(t, roundTrip(t, msg), msg)
	})
}

func TestAsErrors(t *testing.T) {
	m := roundTrip(t, analytics.Track{UserID: "42", Event: "E", Properties: analytics.Properties{"n": 1.0}})
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"not a pointer", analytics.Track{}, "needs a non-nil pointer"},
		{"nil pointer", (*analytics.Track)(nil), "needs a non-nil pointer"},
		{"other type", &analytics.Identify{}, `As(analytics.Identify): message is track "E" user=42`},
		{"not an analytics type", &struct{ UserID string }{}, "is not a message type of package analytics"},
		{"not a message", &analytics.Context{}, "neither a core call nor a typed helper"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := m.As(tc.v)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("As(%T) = %v, want an error containing %q", tc.v, err, tc.want)
			}
		})
	}
}

func TestMessagesAs(t *testing.T) {
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey))
	client := newClient(t, srv.URL)
	enqueue(t, client,
		analytics.Identify{UserID: "1"},
		analytics.Track{UserID: "1", Event: "A"},
		analytics.Identify{UserID: "2"},
	)
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	ids, err := analyticstest.MessagesAs[analytics.Identify](srv.Recorder)
	if err != nil || len(ids) != 2 || ids[0].UserID != "1" || ids[1].UserID != "2" {
		t.Errorf("MessagesAs[Identify] = %+v, %v", ids, err)
	}
	tracks, err := analyticstest.MessagesAs[analytics.Track](srv.Recorder)
	if err != nil || len(tracks) != 1 || tracks[0].Event != "A" {
		t.Errorf("MessagesAs[Track] = %+v, %v", tracks, err)
	}
	if _, err := analyticstest.MessagesAs[int](srv.Recorder); err == nil {
		t.Error("MessagesAs[int] succeeded")
	}
}
