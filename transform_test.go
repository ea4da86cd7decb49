package analytics_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keepAll is a transform that changes nothing.
func keepAll(*analytics.Envelope) bool { return true }

// sendAll enqueues msgs on a deterministic client made with opts, flushes,
// and returns what the fake accepted, in order, and each Enqueue's error.
func sendAll(t *testing.T, msgs []analytics.Message, opts ...analytics.Option) ([]analyticstest.Message, []error) {
	t.Helper()
	srv := analyticstest.NewServer(t)
	c := newTestClient(t, srv.URL, deterministic(opts...)...)
	errs := make([]error, len(msgs))
	for i, m := range msgs {
		errs[i] = c.Enqueue(m)
	}
	require.NoError(t, c.Flush(bounded(t)))
	return srv.Messages(), errs
}

// everyMessage returns every typed helper with every field set, and every
// core call with every field set, in a fixed order, with their names.
func everyMessage(t *testing.T) ([]string, []analytics.Message) {
	helpers := analytics.FilledHelpersForTest(t)
	core := coreMessages()
	core["identify with object"] = analytics.Identify{UserID: "u", ObjectID: "acme", ObjectTypeID: "2",
		RelationshipAttributes: map[string]any{"role": "admin"}, Traits: analytics.Traits{"plan": "pro"}}
	core["page with category"] = analytics.Page{UserID: "u", Name: "Docs", Category: "Help", Properties: analytics.Properties{"category": "lost"}}
	var names []string
	for name := range helpers {
		names = append(names, name)
	}
	for name := range core {
		names = append(names, name)
	}
	sort.Strings(names)
	msgs := make([]analytics.Message, len(names))
	for i, name := range names {
		if m, ok := helpers[name]; ok {
			msgs[i] = m
		} else {
			msgs[i] = core[name]
		}
	}
	return names, msgs
}

// TestTransformThatChangesNothingChangesNoByte: every message, typed
// helper or core call, with every field set, goes through an Envelope and
// back into the same bytes as without a transform: the Envelope holds all
// of it, and each helper is rebuilt as itself.
//
// With a default context too, which the helpers that write into the
// context (a device's token, an app's version) merge with their own.
func TestTransformThatChangesNothingChangesNoByte(t *testing.T) {
	names, msgs := everyMessage(t)
	for _, opts := range [][]analytics.Option{
		nil,
		{analytics.WithDefaultContext(analytics.Context{
			IP: "192.0.2.1", Timezone: "Europe/Paris",
			App:    &analytics.AppInfo{Name: "shop", Version: "0.9", Build: "3"},
			Device: &analytics.DeviceInfo{Manufacturer: "Samsung", Token: "default-token", Type: "android"},
			Page:   &analytics.PageInfo{Title: "Default"},
			Traits: analytics.Traits{"tenant": "acme", "plan": "free"},
			Extra:  map[string]any{"deployment": "blue", "ip": "shadowed"},
		})},
	} {
		direct, errs := sendAll(t, msgs, opts...)
		for i, err := range errs {
			require.NoError(t, err, names[i])
		}
		shaped, errs := sendAll(t, msgs, append(opts, analytics.WithTransform(keepAll))...)
		for i, err := range errs {
			require.NoError(t, err, names[i])
		}
		require.Len(t, shaped, len(direct))
		for i := range direct {
			assert.Equal(t, string(direct[i].Raw), string(shaped[i].Raw), names[i])
		}
	}
}

// TestTransformThatChangesNothingKeepsValidation: a message that Enqueue
// refuses is refused with the same error through a transform that changes
// nothing, and a valid one that only looks like an invalid one on the wire
// (a trait objectTypeId without ObjectID) stays valid.
func TestTransformThatChangesNothingKeepsValidation(t *testing.T) {
	msgs := []analytics.Message{
		analytics.DeletePerson{},
		analytics.DeletePerson{UserID: " "},
		analytics.SuppressPerson{AnonymousID: "a"},
		analytics.CreateOrUpdateDevice{UserID: "u"},
		analytics.DeleteDevice{UserID: "u", Device: analytics.Device{Token: "t", Type: "windows"}},
		analytics.DeleteRelationship{UserID: "u"},
		analytics.DeleteObject{ObjectTypeID: "x", ObjectID: "o", UserID: "u"},
		analytics.ReportDeliveryEvent{DeliveryID: "d", Metric: "exploded"},
		analytics.ReportContentEvent{UserID: "u", ActionType: analytics.ContentActionTypeViewedContent},
		analytics.VideoPlaybackStarted{UserID: "u", Sound: analytics.Int(150)},
		analytics.OrderCompleted{UserID: "u", Products: []analytics.Product{{ProductID: "p"}, {Price: analytics.Float64(math.Inf(1))}}},
		analytics.ApplicationOpened{UserID: "u", DeviceType: "windows"},
		analytics.Identify{UserID: "u", ObjectTypeID: "5"},
		analytics.Identify{UserID: "u", Traits: analytics.Traits{"objectTypeId": "5"}}, // valid
		analytics.Identify{},
		analytics.Track{UserID: "u"},
		analytics.Page{},
		analytics.Group{GroupID: "g", ObjectTypeID: "one"},
		analytics.Alias{UserID: "u"},
		analytics.Track{UserID: "u", Event: "E", Timestamp: time.Date(10_000, 1, 1, 0, 0, 0, 0, time.UTC)},
		analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"bad": math.NaN()}},
		analytics.Track{UserID: "u", Event: "Big", Properties: analytics.Properties{"blob": strings.Repeat("x", 40_000)}},
	}
	_, direct := sendAll(t, msgs)
	_, shaped := sendAll(t, msgs, analytics.WithTransform(keepAll))
	for i := range msgs {
		assert.Equal(t, direct[i], shaped[i], "%#v", msgs[i])
	}
	assert.Error(t, direct[0])
	assert.NoError(t, direct[13])
}

// TestTransformBreakingAnActionGetsItsError: a transform that removes what
// a Customer.io action needs gets the *ValidationError of the action built
// without it: the helper is rebuilt from the Envelope and checked by its
// own rules.
func TestTransformBreakingAnActionGetsItsError(t *testing.T) {
	device := analytics.Device{Token: "tok", Type: analytics.DeviceTypeIOS}
	for _, tc := range []struct {
		name   string
		msg    analytics.Message
		breaks analytics.Transform
		built  analytics.Message // the action built without what breaks removes
	}{
		{"DeletePerson without its UserID",
			analytics.DeletePerson{UserID: "u1"},
			func(e *analytics.Envelope) bool { e.UserID = ""; return true },
			analytics.DeletePerson{}},
		{"SuppressPerson without its email",
			analytics.SuppressPerson{Email: "a@example.com"},
			func(e *analytics.Envelope) bool { e.UserID = ""; delete(e.Properties, "email"); return true },
			analytics.SuppressPerson{}},
		{"UnsuppressPerson without its UserID",
			analytics.UnsuppressPerson{UserID: "u1", AnonymousID: "a1"},
			func(e *analytics.Envelope) bool { e.UserID = ""; return true },
			analytics.UnsuppressPerson{AnonymousID: "a1"}},
		{"CreateOrUpdateDevice without a token",
			analytics.CreateOrUpdateDevice{UserID: "u1", Device: device},
			func(e *analytics.Envelope) bool {
				delete(e.Properties["device"].(map[string]any), "token")
				return true
			},
			analytics.CreateOrUpdateDevice{UserID: "u1", Device: analytics.Device{Type: analytics.DeviceTypeIOS}}},
		{"DeleteDevice with a platform it does not know",
			analytics.DeleteDevice{UserID: "u1", Device: device},
			func(e *analytics.Envelope) bool {
				e.Properties["device"].(map[string]any)["type"] = "windows"
				return true
			},
			analytics.DeleteDevice{UserID: "u1", Device: analytics.Device{Token: "tok", Type: "windows"}}},
		{"DeleteRelationship without its object",
			analytics.DeleteRelationship{UserID: "u1", ObjectID: "acme"},
			func(e *analytics.Envelope) bool { delete(e.Properties, "objectId"); return true },
			analytics.DeleteRelationship{UserID: "u1"}},
		{"DeleteObject with a bad object type",
			analytics.DeleteObject{UserID: "u1", ObjectID: "acme"},
			func(e *analytics.Envelope) bool { e.Properties["objectTypeId"] = "zero"; return true },
			analytics.DeleteObject{UserID: "u1", ObjectID: "acme", ObjectTypeID: "zero"}},
		{"ReportDeliveryEvent with an unknown metric",
			analytics.ReportDeliveryEvent{AnonymousID: "a1", DeliveryID: "d1", Metric: analytics.DeliveryMetricOpened},
			func(e *analytics.Envelope) bool { e.Properties["metric"] = "exploded"; return true },
			analytics.ReportDeliveryEvent{AnonymousID: "a1", DeliveryID: "d1", Metric: "exploded"}},
		{"ReportContentEvent without its anonymousId",
			analytics.ReportContentEvent{AnonymousID: "a1", ActionType: analytics.ContentActionTypeClickedContent},
			func(e *analytics.Envelope) bool { e.AnonymousID = ""; return true },
			analytics.ReportContentEvent{ActionType: analytics.ContentActionTypeClickedContent}},
		{"ApplicationOpened with a device type it does not know",
			analytics.ApplicationOpened{UserID: "u1", DeviceToken: "tok", DeviceType: analytics.DeviceTypeAndroid},
			func(e *analytics.Envelope) bool { e.Context.Device.Type = "windows"; return true },
			analytics.ApplicationOpened{UserID: "u1", DeviceToken: "tok", DeviceType: "windows"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := analyticstest.NewServer(t)
			plain := newTestClient(t, srv.URL)
			shaped := newTestClient(t, srv.URL, analytics.WithTransform(tc.breaks))
			want := plain.Enqueue(tc.built)
			var wantVE *analytics.ValidationError
			require.ErrorAs(t, want, &wantVE, "the action built broken must be invalid")
			require.NoError(t, plain.Enqueue(tc.msg), "the action itself must be valid")

			got := shaped.Enqueue(tc.msg)
			var gotVE *analytics.ValidationError
			require.ErrorAs(t, got, &gotVE)
			assert.Equal(t, *wantVE, *gotVE)
			assert.ErrorIs(t, got, analytics.ErrInvalidMessage)
			assert.EqualValues(t, 1, shaped.Stats().RejectedInvalid)
			assert.Zero(t, shaped.Stats().Enqueued)
		})
	}
}

var errBoom = errors.New("boom")

// TestPanickingTransformRefusesOnlyItsMessage: a transform that panics on
// one message refuses that message with a *TransformError that names its
// position and wraps the panic value; nothing of it is sent, the messages
// around it are, and the process goes on. Every kind of panic value is
// held: an error, a string, a runtime error.
func TestPanickingTransformRefusesOnlyItsMessage(t *testing.T) {
	for _, tc := range []struct {
		name  string
		panic func(*analytics.Envelope)
		check func(t *testing.T, te *analytics.TransformError, err error)
	}{
		{"error", func(*analytics.Envelope) { panic(errBoom) }, func(t *testing.T, te *analytics.TransformError, err error) {
			assert.ErrorIs(t, err, errBoom)
			assert.Equal(t, errBoom, te.Value)
		}},
		{"string", func(*analytics.Envelope) { panic("scrubber bug") }, func(t *testing.T, te *analytics.TransformError, err error) {
			assert.Equal(t, "scrubber bug", te.Value)
			assert.Contains(t, err.Error(), "scrubber bug")
		}},
		{"runtime error", func(e *analytics.Envelope) {
			var ids []string
			_ = ids[len(e.Event)] // index out of range
		}, func(t *testing.T, te *analytics.TransformError, err error) {
			var re interface{ RuntimeError() }
			assert.ErrorAs(t, err, &re)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := analyticstest.NewServer(t)
			var logs logCapture
			seen := atomic.Int64{}
			c := newTestClient(t, srv.URL, analytics.WithLogger(logs.Logger()), analytics.WithTransform(
				func(*analytics.Envelope) bool { seen.Add(1); return true },
				func(e *analytics.Envelope) bool {
					if e.Event == "Scrub Me" {
						tc.panic(e)
					}
					return true
				},
				RedactEmails,
			))
			secret := analytics.Track{UserID: "u2", Event: "Scrub Me", MessageID: "secret-1",
				Properties: analytics.Properties{"email": "secret@example.com"}}
			require.NoError(t, c.Enqueue(analytics.Track{UserID: "u1", Event: "Before"}))
			err := c.Enqueue(secret)
			require.NoError(t, c.Enqueue(analytics.Track{UserID: "u3", Event: "After"}))
			err2 := c.Enqueue(secret) // again: refused again, counted, logged once
			require.NoError(t, c.Flush(bounded(t)))

			var te *analytics.TransformError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, 1, te.Index, "the second transform of the chain")
			assert.Equal(t, "track", te.Type)
			assert.Equal(t, "Scrub Me", te.Event)
			assert.Contains(t, err.Error(), "transform 1 panicked")
			assert.NotErrorIs(t, err, analytics.ErrInvalidMessage)
			tc.check(t, te, err)
			require.ErrorAs(t, err2, &te)

			msgs := srv.Messages()
			require.Len(t, msgs, 2)
			assert.Equal(t, "u1", msgs[0].UserID)
			assert.Equal(t, "u3", msgs[1].UserID)
			for _, r := range srv.Requests() {
				assert.NotContains(t, string(r.Body), "secret", "nothing of the refused message is sent")
			}
			st := c.Stats()
			assert.EqualValues(t, 2, st.RejectedByTransform)
			assert.EqualValues(t, 2, st.Enqueued)
			assert.EqualValues(t, 2, st.Delivered)
			assert.Zero(t, st.RejectedInvalid)
			assert.Zero(t, st.DroppedByTransform)
			assert.EqualValues(t, 4, seen.Load())
			assert.Equal(t, 1, strings.Count(logs.String(), "a transform panicked"), logs.String())
		})
	}
}

// RedactEmails is a transform of the kind a panicking one is chained
// with: had the chain gone on past a panic, it would have run.
var RedactEmails = analytics.RedactKeys("email")

// TestDroppedByTransform: a transform that returns false drops the
// message on purpose: Enqueue returns nil, the later transforms do not
// run, nothing is sent, no callback is called, and the drop is counted
// apart from failures, outside the Stats identity.
func TestDroppedByTransform(t *testing.T) {
	srv := analyticstest.NewServer(t)
	var later, callbacks atomic.Int64
	c := newTestClient(t, srv.URL,
		analytics.WithCallback(func(analytics.Result) { callbacks.Add(1) }),
		analytics.WithTransform(
			analytics.DropEvents("Heartbeat", "Ping"),
			func(*analytics.Envelope) bool { later.Add(1); return true },
		))
	for _, m := range []analytics.Message{
		analytics.Track{UserID: "u", Event: "Heartbeat"},
		analytics.Track{UserID: "u", Event: "Signed Up"},
		analytics.Page{UserID: "u", Name: "Ping"},
		analytics.Identify{UserID: "u"},
		analytics.DeletePerson{UserID: "u"},
	} {
		require.NoError(t, c.Enqueue(m))
	}
	require.NoError(t, c.Flush(bounded(t)))
	var got []string
	for _, m := range srv.Messages() {
		got = append(got, m.Type+":"+m.Event)
	}
	assert.Equal(t, []string{"track:Signed Up", "identify:", "track:User Deleted"}, got)
	assert.EqualValues(t, 3, later.Load())
	assert.EqualValues(t, 3, callbacks.Load())
	st := c.Stats()
	assert.EqualValues(t, 2, st.DroppedByTransform)
	assert.EqualValues(t, 3, st.Enqueued)
	assert.Zero(t, st.Failed)
	assert.Equal(t, st.Enqueued+st.SpoolRecovered+st.SpoolRequeued, st.Delivered+st.Failed+st.Queued+st.InFlight+st.SpoolPending)
}

// TestEnvelopeShowsTheWire: a typed helper appears in the Envelope with its
// fields where they go on the wire, with the id and time Enqueue gives it;
// changing the Envelope changes what is sent, never the caller's message.
func TestEnvelopeShowsTheWire(t *testing.T) {
	srv := analyticstest.NewServer(t)
	var seen []analytics.Envelope
	c := newTestClient(t, srv.URL, deterministic(analytics.WithTransform(func(e *analytics.Envelope) bool {
		seen = append(seen, *e)
		switch e.Event {
		case "Order Completed":
			e.Properties["total"] = 30.0 // read back into the Total field
			e.Properties["products"].([]any)[0].(map[string]any)["price"] = 1
			e.Properties["note"] = "added"
			delete(e.Properties["custom"].(map[string]any), "k")
			e.Context.Page.URL = "https://example.com/changed"
		}
		return true
	}))...)
	products := []analytics.Product{{ProductID: "p1", Price: analytics.Float64(19)}}
	extra := analytics.Properties{"custom": map[string]any{"k": "v"}}
	page := &analytics.PageInfo{URL: "https://example.com/checkout"}
	order := analytics.OrderCompleted{UserID: "u1", OrderID: "o1", Total: analytics.Float64(27.5), Currency: "EUR",
		Products: products, Extra: extra, Context: &analytics.Context{Page: page}}
	require.NoError(t, c.Enqueue(order))
	require.NoError(t, c.Enqueue(analytics.DeletePerson{Email: "ada@example.com"}))
	require.NoError(t, c.Enqueue(analytics.ApplicationOpened{UserID: "u1", DeviceToken: "tok", DeviceType: analytics.DeviceTypeIOS, Version: "2.0"}))
	require.NoError(t, c.Flush(bounded(t)))

	require.Len(t, seen, 3)
	o := seen[0]
	assert.Equal(t, "track", o.Type)
	assert.Equal(t, "Order Completed", o.Event)
	assert.Equal(t, "u1", o.UserID)
	assert.Equal(t, "msg-1", o.MessageID)
	assert.True(t, o.Timestamp.Equal(fixedTime))
	assert.Equal(t, 30.0, o.Properties["total"], "the transform's change")
	assert.Equal(t, "EUR", o.Properties["currency"])
	assert.Equal(t, "o1", o.Properties["order_id"])
	assert.Equal(t, []any{map[string]any{"product_id": "p1", "price": 1}}, o.Properties["products"])

	d := seen[1]
	assert.Equal(t, "ada@example.com", d.UserID, "without a UserID the email is the userId")
	assert.Equal(t, "ada@example.com", d.Properties["email"])
	a := seen[2]
	assert.Equal(t, "tok", a.Context.Device.Token)
	assert.Equal(t, "2.0", a.Context.App.Version)
	assert.Equal(t, "2.0", a.Properties["version"])

	// The caller's message is as it was.
	assert.Equal(t, 19.0, *products[0].Price)
	assert.Equal(t, map[string]any{"k": "v"}, extra["custom"])
	assert.Len(t, extra, 1)
	assert.Equal(t, "https://example.com/checkout", page.URL)

	// What was sent is what the transform left.
	sent := srv.ByEvent("Order Completed")
	require.Len(t, sent, 1)
	got, err := analyticstest.As[analytics.OrderCompleted](sent[0])
	require.NoError(t, err)
	assert.Equal(t, 30.0, *got.Total)
	assert.Equal(t, 1.0, *got.Products[0].Price)
	assert.Equal(t, analytics.Properties{"note": "added", "custom": map[string]any{}}, got.Extra)
	assert.Equal(t, "https://example.com/changed", got.Context.Page.URL)
}

// TestTransformChangesTheCall: a transform that renames a helper's event
// sends the track call it then is; one that sets a field the call does not
// send, or an unknown type, gets a *ValidationError naming it rather than
// a message silently cut short.
func TestTransformChangesTheCall(t *testing.T) {
	srv := analyticstest.NewServer(t)
	c := newTestClient(t, srv.URL, analytics.WithTransform(func(e *analytics.Envelope) bool {
		switch e.UserID {
		case "rename":
			e.Event = "Purchase"
		case "props on identify":
			e.Properties = analytics.Properties{"x": 1}
		case "no such type":
			e.Type = "purchase"
		case "to identify":
			e.Type, e.Event, e.Traits, e.Properties = "identify", "", analytics.Traits{"plan": "pro"}, nil
		}
		return true
	}))
	require.NoError(t, c.Enqueue(analytics.OrderCompleted{UserID: "rename", Total: analytics.Float64(5)}))
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "to identify", Event: "Upgraded"}))
	err := c.Enqueue(analytics.Identify{UserID: "props on identify"})
	var ve *analytics.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "properties", ve.Field)
	err = c.Enqueue(analytics.Identify{UserID: "no such type"})
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "type", ve.Field)
	require.NoError(t, c.Flush(bounded(t)))

	msgs := srv.Messages()
	require.Len(t, msgs, 2)
	assert.Equal(t, "Purchase", msgs[0].Event)
	assert.Equal(t, 5.0, msgs[0].Properties["total"])
	assert.Equal(t, "identify", msgs[1].Type)
	assert.Equal(t, "pro", msgs[1].Traits["plan"])
	assert.EqualValues(t, 2, c.Stats().RejectedInvalid)
}

// TestWithTransformNil: a nil transform is an error from New.
func TestWithTransformNil(t *testing.T) {
	_, err := analytics.New(testKey, analytics.WithTransform(keepAll, nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "WithTransform: function 1 is nil")
}

// TestRedactKeysEveryHelper: RedactKeys("email") leaves no email key
// anywhere in a message built from every helper type and every core
// call, with email keys, in any case, put everywhere a key can go: the
// typed Email field, Extra and the maps nested in it, the Extra of every
// shape, the traits, the relationship attributes, and the context's
// traits, Extra and campaign.
func TestRedactKeysEveryHelper(t *testing.T) {
	names, msgs := everyMessage(t)
	for i, m := range msgs {
		msgs[i] = withEmailsEverywhere(t, m)
	}
	sent, errs := sendAll(t, msgs, analytics.WithTransform(analytics.RedactKeys("email")))
	for i, err := range errs {
		require.NoError(t, err, names[i])
	}
	require.Len(t, sent, len(msgs))
	for i, m := range sent {
		var v any
		require.NoError(t, json.Unmarshal(m.Raw, &v))
		for _, path := range keysNamed(v, "email", "") {
			t.Errorf("%s: %s is still sent", names[i], path)
		}
		assert.Contains(t, string(m.Raw), "kept", names[i])
	}
	// Without redaction, the same messages carry an email key.
	unredacted, _ := sendAll(t, msgs[:1])
	var v any
	require.NoError(t, json.Unmarshal(unredacted[0].Raw, &v))
	assert.NotEmpty(t, keysNamed(v, "email", ""))
}

// withEmailsEverywhere returns m with email keys in every map a message
// can carry, and a "kept" key beside them.
func withEmailsEverywhere(t *testing.T, m analytics.Message) analytics.Message {
	t.Helper()
	nested := func() map[string]any {
		return map[string]any{"email": "a@example.com", "EMAIL": "b@example.com", "kept": 1,
			"list": []any{map[string]any{"Email": "c@example.com"}, "text"},
			"maps": []map[string]any{{"eMail": "d@example.com"}}}
	}
	v := reflect.New(reflect.TypeOf(m)).Elem()
	v.Set(reflect.ValueOf(m))
	for _, name := range []string{"Extra", "Properties", "Traits", "RelationshipAttributes"} {
		f := v.FieldByName(name)
		if !f.IsValid() || name == "RelationshipAttributes" && f.IsNil() {
			continue // relationship attributes need an object
		}
		mp := reflect.MakeMap(f.Type())
		if !f.IsNil() {
			for _, k := range f.MapKeys() {
				mp.SetMapIndex(k, f.MapIndex(k))
			}
		}
		mp.SetMapIndex(reflect.ValueOf("email"), reflect.ValueOf("e@example.com"))
		mp.SetMapIndex(reflect.ValueOf("nested"), reflect.ValueOf(nested()))
		mp.SetMapIndex(reflect.ValueOf("kept"), reflect.ValueOf("yes"))
		f.Set(mp)
	}
	if f := v.FieldByName("Email"); f.IsValid() {
		f.SetString("f@example.com")
	}
	// The Extra of shapes (Products, a Device).
	for i := range v.NumField() {
		f := v.Field(i)
		switch {
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
			s := reflect.MakeSlice(f.Type(), f.Len(), f.Len())
			reflect.Copy(s, f)
			for j := range s.Len() {
				setShapeEmail(s.Index(j))
			}
			f.Set(s)
		case f.Kind() == reflect.Struct && f.Type() != reflect.TypeOf(time.Time{}):
			setShapeEmail(f)
		}
	}
	ctx := &analytics.Context{}
	if f := v.FieldByName("Context"); !f.IsNil() {
		*ctx = *f.Interface().(*analytics.Context)
	}
	ctx.Traits = nested()
	ctx.Extra = nested()
	ctx.Campaign = &analytics.CampaignInfo{Name: "c", Extra: nested()}
	v.FieldByName("Context").Set(reflect.ValueOf(ctx))
	if f := v.FieldByName("UserID"); f.String() == "" && v.Type().Name() == "Identify" {
		f.SetString("u") // not named by traits.email alone, which redaction removes
	}
	return v.Interface().(analytics.Message)
}

func setShapeEmail(s reflect.Value) {
	f := s.FieldByName("Extra")
	if !f.IsValid() || f.Type() != reflect.TypeOf(analytics.Properties{}) {
		return
	}
	extra := analytics.Properties{"Email": "g@example.com"}
	for _, k := range f.MapKeys() {
		extra[k.String()] = f.MapIndex(k).Interface()
	}
	f.Set(reflect.ValueOf(extra))
}

// keysNamed returns the paths of the keys of v equal to name without
// regard to case, at any depth.
func keysNamed(v any, name, path string) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if strings.EqualFold(k, name) {
				out = append(out, path+"."+k)
			}
			out = append(out, keysNamed(e, name, path+"."+k)...)
		}
	case []any:
		for i, e := range x {
			out = append(out, keysNamed(e, name, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return out
}

// TestSampleEvents: SampleEvents keeps about its rate of the events it
// samples, decided by message id (the same id, the same choice), samples
// only the events named, and never an identify, group or alias call, nor
// an event that triggers a Customer.io action.
func TestSampleEvents(t *testing.T) {
	srv := analyticstest.NewServer(t)
	c := newTestClient(t, srv.URL, deterministic(
		analytics.WithTransform(analytics.SampleEvents(0.25, "Scrolled", "Home")),
		analytics.WithQueueCapacity(20_000))...)
	const n = 4000
	for range n {
		require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "Scrolled"}))
	}
	for range 100 {
		require.NoError(t, c.Enqueue(analytics.Page{UserID: "u", Name: "Home"}))
		require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "Signed Up"})) // not named
	}
	require.NoError(t, c.Flush(bounded(t)))
	scrolled := len(srv.ByEvent("Scrolled"))
	assert.InDelta(t, n/4, scrolled, n*0.03, "kept %d of %d", scrolled, n)
	assert.Len(t, srv.ByEvent("Signed Up"), 100)
	home := len(srv.ByType("page"))
	assert.Greater(t, home, 5)
	assert.Less(t, home, 50)
	assert.EqualValues(t, n+100-scrolled-home, c.Stats().DroppedByTransform)

	// At rate 0 every event goes, but not the calls it never samples.
	srv2 := analyticstest.NewServer(t)
	c2 := newTestClient(t, srv2.URL, analytics.WithTransform(analytics.SampleEvents(0)))
	never := []analytics.Message{
		analytics.Identify{UserID: "u"},
		analytics.Group{UserID: "u", GroupID: "g"},
		analytics.Alias{UserID: "u", PreviousID: "p"},
		analytics.DeletePerson{UserID: "u"},
		analytics.SuppressPerson{UserID: "u"},
		analytics.CreateOrUpdateDevice{UserID: "u", Device: analytics.Device{Token: "t", Type: analytics.DeviceTypeIOS}},
		analytics.ApplicationInstalled{UserID: "u", DeviceToken: "t", DeviceType: analytics.DeviceTypeAndroid},
		analytics.Track{UserID: "u", Event: "Device Deleted", Context: &analytics.Context{Device: &analytics.DeviceInfo{Token: "t"}}},
		analytics.ReportDeliveryEvent{AnonymousID: "a", DeliveryID: "d", Metric: analytics.DeliveryMetricOpened},
	}
	for _, m := range never {
		require.NoError(t, c2.Enqueue(m))
	}
	require.NoError(t, c2.Enqueue(analytics.Track{UserID: "u", Event: "Scrolled"}))
	require.NoError(t, c2.Enqueue(analytics.Screen{UserID: "u", Name: "Feed"}))
	require.NoError(t, c2.Flush(bounded(t)))
	assert.Len(t, srv2.Messages(), len(never))
	assert.EqualValues(t, 2, c2.Stats().DroppedByTransform)

	// The same id, the same choice.
	s := analytics.SampleEvents(0.5)
	for i := range 50 {
		id := fmt.Sprintf("order-%d", i)
		first := s(&analytics.Envelope{Type: "track", Event: "E", MessageID: id})
		assert.Equal(t, first, s(&analytics.Envelope{Type: "track", Event: "E", MessageID: id}))
	}
	for _, bad := range []float64{-0.1, 1.5, math.NaN()} {
		assert.Panics(t, func() { analytics.SampleEvents(bad) }, "rate %v", bad)
	}
}

// TestAnonymizeIP: the last octet of an IPv4 address, and the last 80 bits
// of an IPv6 address, are zeroed; a context.ip that is not an address is
// removed.
func TestAnonymizeIP(t *testing.T) {
	anon := analytics.AnonymizeIP()
	for in, want := range map[string]string{
		"203.0.113.77":             "203.0.113.0",
		"::ffff:203.0.113.77":      "203.0.113.0",
		"2001:db8:1234:5678::1":    "2001:db8:1234::",
		"fe80::1%eth0":             "fe80::",
		"not an address":           "",
		"":                         "",
		"198.51.100.255":           "198.51.100.0",
		"2001:db8:abcd:12:ff::abc": "2001:db8:abcd::",
	} {
		env := &analytics.Envelope{Type: "track", Context: &analytics.Context{IP: in}}
		assert.True(t, anon(env))
		assert.Equal(t, want, env.Context.IP, in)
	}
	assert.True(t, anon(&analytics.Envelope{Type: "track"}), "no context")
}

// TestTransformChecksWhatIsAtAFieldsPlace: after the transforms a typed
// helper is read back from the wire's places, so a value at a field's
// place is checked as that field, even one the caller put in Extra, where
// without a transform it is sent unchecked (as WithTransform documents).
// A value of another type stays an Extra key, sent as it is.
func TestTransformChecksWhatIsAtAFieldsPlace(t *testing.T) {
	loud := analytics.VideoPlaybackStarted{UserID: "u", Extra: analytics.Properties{"sound": 150}}
	odd := analytics.VideoPlaybackStarted{UserID: "u", Extra: analytics.Properties{"sound": "loud"}}
	direct, errs := sendAll(t, []analytics.Message{loud, odd})
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	shaped, errs := sendAll(t, []analytics.Message{loud, odd}, analytics.WithTransform(keepAll))
	var ve *analytics.ValidationError
	require.ErrorAs(t, errs[0], &ve)
	assert.Equal(t, "properties.sound", ve.Field)
	require.NoError(t, errs[1])
	require.Len(t, shaped, 1)
	assert.Equal(t, string(direct[1].Raw), string(shaped[0].Raw))
}
