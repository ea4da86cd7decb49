package analyticstest_test

import (
	"strings"
	"testing"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

// The typed helpers decode back into themselves.
func TestAsHelpers(t *testing.T) {
	t.Run("DeletePerson", func(t *testing.T) {
		msg := analytics.DeletePerson{UserID: "42", MessageID: "d", Timestamp: fixedTime}
		checkRoundTrip(t, roundTrip(t, msg), msg)
	})
	t.Run("DeletePerson by email", func(t *testing.T) {
		msg := analytics.DeletePerson{Email: "ada@example.com", Extra: analytics.Properties{"reason": "gdpr"},
			MessageID: "d", Timestamp: fixedTime}
		checkRoundTrip(t, roundTrip(t, msg), msg)
	})
	t.Run("DeletePerson by an email with spaces", func(t *testing.T) {
		// The userId is the email trimmed; it is still the email's copy.
		msg := analytics.DeletePerson{Email: " ada@example.com\n", MessageID: "d", Timestamp: fixedTime}
		checkRoundTrip(t, roundTrip(t, msg), msg)
	})
	t.Run("OrderCompleted", func(t *testing.T) {
		msg := analytics.OrderCompleted{
			UserID:   "42",
			OrderID:  "o-1",
			Total:    analytics.Ptr(27.5),
			Tax:      analytics.Ptr(0.0),
			Currency: "EUR",
			Products: []analytics.Product{
				{ProductID: "p-1", SKU: "S1", Name: "Mug", Price: analytics.Ptr(12.5), Quantity: analytics.Ptr(1)},
				{ProductID: "p-2", Price: analytics.Ptr(7.5), Quantity: analytics.Ptr(2), Extra: analytics.Properties{"gift": true}},
			},
			Extra:        analytics.Properties{"channel": "web", "items": 3.0},
			Context:      &analytics.Context{IP: "203.0.113.7"},
			Integrations: analytics.Integrations{"All": true},
			MessageID:    "o",
			Timestamp:    fixedTime,
		}
		checkRoundTrip(t, roundTrip(t, msg), msg)
	})
	t.Run("CreateOrUpdateDevice", func(t *testing.T) {
		msg := analytics.CreateOrUpdateDevice{
			UserID: "42",
			Device: analytics.Device{Token: "tok-1", Type: analytics.DeviceTypeIOS, Extra: analytics.Properties{"app_version": "2.1"}},
			// Sent in context.device too, with the device's token and type.
			Context:   &analytics.Context{Device: &analytics.DeviceInfo{Model: "iPhone16,1"}, Locale: "en-GB"},
			MessageID: "dev",
			Timestamp: fixedTime,
		}
		m := roundTrip(t, msg)
		if dev, _ := m.Context["device"].(map[string]any); dev["token"] != "tok-1" || dev["model"] != "iPhone16,1" {
			t.Errorf("context.device = %v", m.Context["device"])
		}
		checkRoundTrip(t, m, msg)
	})
	t.Run("VideoPlaybackStarted", func(t *testing.T) {
		msg := analytics.VideoPlaybackStarted{
			AnonymousID:     "a-1",
			SessionID:       "s-1",
			ContentAssetIDs: []string{"v1", "v2"},
			AdType:          analytics.AdTypePreRoll,
			Position:        analytics.Ptr(0),
			TotalLength:     analytics.Ptr(3600),
			Sound:           analytics.Ptr(80),
			FullScreen:      analytics.Ptr(false),
			Livestream:      analytics.Ptr(true),
			VideoPlayer:     "vimeo",
			MessageID:       "v",
			Timestamp:       fixedTime,
		}
		checkRoundTrip(t, roundTrip(t, msg), msg)
	})
}

func TestAsHelperErrors(t *testing.T) {
	order := roundTrip(t, analytics.OrderCompleted{UserID: "42", OrderID: "o-1"})
	if _, err := analyticstest.As[analytics.ProductViewed](order); err == nil ||
		!strings.Contains(err.Error(), `As(analytics.ProductViewed): message is track "Order Completed"`) {
		t.Errorf("As[ProductViewed] of an order: %v", err)
	}
	// A core track with the helper's event name decodes into the helper
	// if its properties fit.
	for _, tc := range []struct {
		props analytics.Properties
		want  string
	}{
		{analytics.Properties{"total": "thirty"}, "properties.total: want a number, got a string"},
		{analytics.Properties{"products": []any{map[string]any{"quantity": 1.5}}}, "properties.products[0].quantity: 1.5 does not fit int"},
		{analytics.Properties{"products": "mug"}, "properties.products: want an array, got a string"},
	} {
		m := roundTrip(t, analytics.Track{UserID: "42", Event: "Order Completed", Properties: tc.props})
		if _, err := analyticstest.As[analytics.OrderCompleted](m); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("As of %v: %v, want an error containing %q", tc.props, err, tc.want)
		}
	}
	m := roundTrip(t, analytics.Track{UserID: "42", Event: "Order Completed", Properties: analytics.Properties{"total": 10, "note": "x"}})
	got, err := analyticstest.As[analytics.OrderCompleted](m)
	if err != nil || *got.Total != 10 || got.Extra["note"] != "x" {
		t.Errorf("As of a core track: %+v, %v", got, err)
	}
}

func TestMessagesAsHelper(t *testing.T) {
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey))
	client := newClient(t, srv.URL)
	enqueue(t, client,
		analytics.OrderCompleted{UserID: "1", OrderID: "o-1", Total: analytics.Ptr(10.0)},
		analytics.ProductViewed{UserID: "1", ProductID: "p-1"},
		analytics.OrderCompleted{UserID: "2", OrderID: "o-2", Total: analytics.Ptr(20.0)},
	)
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	orders, err := analyticstest.MessagesAs[analytics.OrderCompleted](srv.Recorder)
	if err != nil || len(orders) != 2 || orders[0].OrderID != "o-1" || *orders[1].Total != 20 {
		t.Errorf("MessagesAs[OrderCompleted] = %+v, %v", orders, err)
	}
}
