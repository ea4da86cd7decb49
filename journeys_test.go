package analytics_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/cdpkit/analytics-go/internal/catalog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// actionCase is one call that triggers a Customer.io action, and the value
// each of the action's fields must read from it. Which path a field is read
// from is the catalog's (internal/catalog/catalog.json, "actions"); the
// cases only say what was sent.
type actionCase struct {
	msg  analytics.Message
	want map[string]any // by the action's field name
}

// actionCases holds, by action key, the calls that trigger each action of
// Customer.io's Journeys destination: every helper the catalog lists for
// the action, and the core call of the actions triggered by one.
var actionCases = map[string][]actionCase{
	"createUpdatePerson": {
		{analytics.Identify{UserID: "u-1", Traits: analytics.Traits{"email": "ada@example.com"}, ObjectID: "acme", ObjectTypeID: "2", RelationshipAttributes: map[string]any{"role": "admin"}},
			map[string]any{"id": "u-1", "email": "ada@example.com", "group_id": "acme", "object_type_id": "2", "relationship_attributes": map[string]any{"role": "admin"}}},
		// A person named by email alone.
		{analytics.Identify{Traits: analytics.Traits{"email": "ada@example.com"}},
			map[string]any{"id": "ada@example.com", "email": "ada@example.com"}},
	},
	"createUpdateObject": {
		{analytics.Group{UserID: "u-1", GroupID: "acme", ObjectTypeID: "2", RelationshipAttributes: map[string]any{"role": "admin"}},
			map[string]any{"id": "acme", "object_type_id": "2", "user_id": "u-1", "relationship_attributes": map[string]any{"role": "admin"}}},
		// A numeric object type in traits, as Customer.io's own example.
		{analytics.Group{AnonymousID: "a-1", GroupID: "acme", Traits: analytics.Traits{"object_type_id": 3}},
			map[string]any{"id": "acme", "object_type_id": 3.0, "anonymous_id": "a-1"}},
	},
	"mergePeople": {
		{analytics.Alias{UserID: "u-1", PreviousID: "old-1"}, map[string]any{"primary": "u-1", "secondary": "old-1"}},
	},
	"trackEvent": {
		{analytics.Track{UserID: "u-1", Event: "Signed Up", Properties: analytics.Properties{"plan": "pro"}, MessageID: "event-1"},
			map[string]any{"name": "Signed Up", "id": "u-1", "event_id": "event-1", "data": map[string]any{"plan": "pro"}}},
	},
	"trackPageView": {
		{analytics.Page{AnonymousID: "a-1", Name: "Docs", Category: "Guides", Properties: analytics.Properties{"url": "https://example.com/docs"}},
			map[string]any{"anonymous_id": "a-1", "url": "https://example.com/docs", "data": map[string]any{"url": "https://example.com/docs", "category": "Guides"}}},
	},
	"trackScreenView": {
		{analytics.Screen{UserID: "u-1", Name: "Feed"}, map[string]any{"id": "u-1", "name": "Feed"}},
	},
	"createUpdateDevice": {
		{analytics.ApplicationInstalled{UserID: "u-1", DeviceToken: "token-1", DeviceType: analytics.DeviceTypeIOS, Version: "2.3.0"},
			map[string]any{"person_id": "u-1", "device_id": "token-1", "platform": "ios", "app_version": "2.3.0"}},
		{analytics.ApplicationOpened{UserID: "u-1", DeviceToken: "token-2", DeviceType: analytics.DeviceTypeAndroid, Version: "2.3.1"},
			map[string]any{"person_id": "u-1", "device_id": "token-2", "platform": "android", "app_version": "2.3.1"}},
		{analytics.CreateOrUpdateDevice{UserID: "u-1", Device: analytics.Device{Token: "token-3", Type: analytics.DeviceTypeIOS}},
			map[string]any{"person_id": "u-1", "device_id": "token-3", "platform": "ios"}},
	},
	"deleteDevice": {
		{analytics.ApplicationUninstalled{UserID: "u-1", DeviceToken: "token-1"}, map[string]any{"person_id": "u-1", "device_id": "token-1"}},
		{analytics.DeleteDevice{UserID: "u-1", Device: analytics.Device{Token: "token-2"}}, map[string]any{"person_id": "u-1", "device_id": "token-2"}},
	},
	"deletePerson": {
		{analytics.DeletePerson{Email: "ada@example.com"}, map[string]any{"person_id": "ada@example.com"}},
		// A blank UserID counts as absent: the email is the userId.
		{analytics.DeletePerson{UserID: " ", Email: "ada@example.com"}, map[string]any{"person_id": "ada@example.com"}},
		{analytics.DeletePerson{UserID: "u-1", Email: "ada@example.com"}, map[string]any{"person_id": "u-1"}},
		// An email read from a file with its line end: Customer.io looks a
		// userId up as an email only if it is one, spaces excluded.
		{analytics.DeletePerson{Email: " ada@example.com\r\n"}, map[string]any{"person_id": "ada@example.com"}},
	},
	"suppressPerson": {
		{analytics.SuppressPerson{Email: "ada@example.com"}, map[string]any{"person_id": "ada@example.com"}},
	},
	"unsuppressPerson": {
		{analytics.UnsuppressPerson{Email: "ada@example.com"}, map[string]any{"person_id": "ada@example.com"}},
	},
	"deleteRelationship": {
		{analytics.DeleteRelationship{Email: "ada@example.com", ObjectID: "acme", ObjectTypeID: "2"},
			map[string]any{"person_id": "ada@example.com", "object_id": "acme", "object_type_id": "2"}},
	},
	"deleteObject": {
		{analytics.DeleteObject{AnonymousID: "system", ObjectID: "acme", ObjectTypeID: "2"}, map[string]any{"object_id": "acme", "object_type_id": "2"}},
	},
	"reportDeliveryEvent": {
		{analytics.ReportDeliveryEvent{AnonymousID: "a-1", DeliveryID: "delivery-1", Metric: analytics.DeliveryMetricClicked, Recipient: "token-1", Href: "https://example.com/offer", ActionName: "open-offer", ActionValue: "offer-7"},
			map[string]any{"delivery_id": "delivery-1", "metric": "clicked", "recipient": "token-1", "href": "https://example.com/offer", "action_name": "open-offer", "action_value": "offer-7"}},
		{analytics.ReportDeliveryEvent{UserID: "u-1", DeliveryID: "delivery-2", Metric: analytics.DeliveryMetricBounced, Reason: "mailbox full"},
			map[string]any{"delivery_id": "delivery-2", "metric": "bounced", "reason": "mailbox full"}},
	},
	"reportContentEvent": {
		{analytics.ReportContentEvent{UserID: "u-1", AnonymousID: "a-1", ActionType: analytics.ContentActionTypeViewedContent},
			map[string]any{"anonymous_id": "a-1", "actionType": "viewed_content"}},
	},
}

// TestActionsTakeEffect runs one test per action of Customer.io's Journeys
// destination, from the catalog: each call that triggers it goes through
// the real client to the fake (which fails the test on any violation,
// the Journeys check included), and every field the case names arrives at
// the first of the action's paths that holds a value, with the value sent.
// Every required field of the action is named by every case, and every
// helper the catalog lists for the action has a case.
func TestActionsTakeEffect(t *testing.T) {
	t.Parallel()
	cat, err := catalog.Load()
	require.NoError(t, err)
	for key := range actionCases {
		assert.NotNil(t, cat.Action(key), "cases for %q, which is not an action in the catalog", key)
	}
	for i := range cat.Actions {
		a := &cat.Actions[i]
		t.Run(a.Key, func(t *testing.T) {
			cases := actionCases[a.Key]
			require.NotEmpty(t, cases, "no case for the %q action", a.Name)
			covered := map[string]bool{}
			for _, c := range cases {
				covered[reflect.TypeOf(c.msg).Name()] = true
			}
			for _, h := range a.Helpers {
				assert.True(t, covered[h], "no case for %s, which triggers %q", h, a.Name)
			}
			for _, c := range cases {
				checkActionCase(t, a, c)
			}
		})
	}
}

func checkActionCase(t *testing.T, a *catalog.Action, c actionCase) {
	t.Helper()
	name := fmt.Sprintf("%T", c.msg)
	for _, f := range a.Fields {
		if f.Required {
			assert.Contains(t, c.want, f.Name, "%s: the case does not check the required field %s", name, f.Name)
		}
	}
	srv := analyticstest.NewServer(t)
	client, err := analytics.New("test-key", analytics.WithEndpoint(srv.URL))
	require.NoError(t, err)
	defer client.Close()
	require.NoError(t, client.Enqueue(c.msg), "%s: Enqueue", name)
	require.NoError(t, client.Flush(bounded(t)), "%s: Flush", name)
	msgs := srv.Messages()
	require.Len(t, msgs, 1, "%s: received %v, want one message", name, msgs)
	m := msgs[0]
	assert.True(t, a.Triggers(m.Type, m.Event), "%s arrived as %s, which does not trigger %q", name, m, a.Name)
	var top map[string]any
	require.NoError(t, json.Unmarshal(m.Raw, &top))
	for _, f := range a.Fields {
		want, ok := c.want[f.Name]
		if !ok {
			continue
		}
		got, path := readField(top, f.Paths)
		assert.Equal(t, want, got, "%s: %q reads %s from %s: got %#v (at %q), want %#v\n%s", name, a.Name, f.Name, strings.Join(f.Paths, " or "), got, path, want, m.Raw)
	}
	for fname := range c.want {
		assert.True(t, slices.ContainsFunc(a.Fields, func(f catalog.ActionField) bool { return f.Name == fname }),
			"%s: the case checks %s, which is not a field of %q", name, fname, a.Name)
	}
}

// readField returns the value at the first of paths that holds one, as the
// destination's @if/exists reads it, and that path.
func readField(top map[string]any, paths []string) (any, string) {
	for _, p := range paths {
		var v any = top
		ok := true
		for _, k := range strings.Split(p, ".") {
			o, isObj := v.(map[string]any)
			if !isObj {
				ok = false
				break
			}
			if v, ok = o[k]; !ok {
				break
			}
		}
		if ok && v != nil {
			return v, p
		}
	}
	return nil, ""
}

// TestDeliveryMetrics: a constant for each of the eight metrics the Report
// Delivery Event action accepts, and no other value.
func TestDeliveryMetrics(t *testing.T) {
	t.Parallel()
	got := []analytics.DeliveryMetric{
		analytics.DeliveryMetricDelivered, analytics.DeliveryMetricOpened, analytics.DeliveryMetricClicked,
		analytics.DeliveryMetricConverted, analytics.DeliveryMetricSpammed, analytics.DeliveryMetricBounced,
		analytics.DeliveryMetricDropped, analytics.DeliveryMetricDeferred,
	}
	want := "delivered opened clicked converted spammed bounced dropped deferred"
	assert.Equal(t, "["+want+"]", fmt.Sprint(got), "the metrics")
	srv := analyticstest.NewServer(t)
	client, err := analytics.New("test-key", analytics.WithEndpoint(srv.URL))
	require.NoError(t, err)
	defer client.Close()
	err = client.Enqueue(analytics.ReportDeliveryEvent{UserID: "u", DeliveryID: "d", Metric: "failed"})
	var ve *analytics.ValidationError
	if assert.ErrorAs(t, err, &ve, "metric \"failed\"") {
		assert.Equal(t, "properties.metric", ve.Field, "metric \"failed\"")
	}
}

// TestDeletePersonByEmailOnTheWire: the GDPR case, byte for byte. A person
// named by email alone, or with a blank UserID, arrives with the email as
// "userId", where Customer.io's Delete Person action reads the person.
func TestDeletePersonByEmailOnTheWire(t *testing.T) {
	t.Parallel()
	srv := analyticstest.NewServer(t)
	client, err := analytics.New("test-key", analytics.WithEndpoint(srv.URL))
	require.NoError(t, err)
	defer client.Close()
	for _, m := range []analytics.DeletePerson{{Email: "a@example.com"}, {UserID: "  ", Email: "a@example.com"}} {
		require.NoError(t, client.Enqueue(m))
	}
	require.NoError(t, client.Flush(bounded(t)))
	msgs := srv.ByEvent("User Deleted")
	require.Len(t, msgs, 2, "received %v, want two User Deleted", msgs)
	for _, m := range msgs {
		assert.Contains(t, string(m.Raw), `"userId":"a@example.com"`)
		assert.NotContains(t, string(m.Raw), `"userId":"  "`)
	}
}
