package analyticstest_test

import (
	"context"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

// TestJourneysCheck: the calls a user's code can make through the real
// client that the API accepts but Customer.io's Journeys destination could
// not act on are flagged, each naming the message and the field the action
// reads; the API's answer is unchanged (the messages are received), and
// WithJourneysCheck(false) turns the check off.
func TestJourneysCheck(t *testing.T) {
	calls := []analytics.Message{
		analytics.Track{AnonymousID: "a-1", Event: "User Deleted"},                                                                      // no userId
		analytics.ApplicationInstalled{UserID: "u-1", Version: "2.3.0"},                                                                 // no device token or type
		analytics.Track{UserID: "u-1", Event: "Report Content Event", Properties: analytics.Properties{"actionType": "viewed_content"}}, // no anonymousId
		analytics.ApplicationInstalled{UserID: "u-1", DeviceToken: "token-1", DeviceType: analytics.DeviceTypeIOS},                      // fine
	}
	want := []struct {
		message int
		field   string
	}{{0, "userId"}, {1, "context.device.token"}, {1, "context.device.type"}, {2, "anonymousId"}}

	send := func(t *testing.T, opts ...analyticstest.Option) *analyticstest.Server {
		srv := analyticstest.NewServer(t, opts...)
		client := newClient(t, srv.URL)
		for _, m := range calls {
			if err := client.Enqueue(m); err != nil {
				t.Fatalf("Enqueue(%T): %v", m, err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := client.Flush(ctx); err != nil {
			t.Fatalf("Flush: %v (the API takes these calls)", err)
		}
		if got := srv.Messages(); len(got) != len(calls) {
			t.Errorf("received %d messages, want %d", len(got), len(calls))
		}
		return srv
	}

	srv := send(t, analyticstest.WithViolationsAllowed())
	vs := srv.Violations()
	if len(vs) != len(want) {
		t.Fatalf("violations %v, want %d", vs, len(want))
	}
	for i, w := range want {
		if vs[i].Kind != analyticstest.ViolationJourneys || vs[i].Message != w.message || vs[i].Field != w.field {
			t.Errorf("violation %d = %v, want journeys at message %d, field %s", i, vs[i], w.message, w.field)
		}
	}

	if vs := send(t, analyticstest.WithJourneysCheck(false)).Violations(); len(vs) != 0 {
		t.Errorf("violations %v with the Journeys check off", vs)
	}
}
