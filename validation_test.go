package analytics_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type panicMarshaler struct{}

func (panicMarshaler) MarshalJSON() ([]byte, error) { panic("MarshalJSON panics") }

type errMarshaler struct{}

func (errMarshaler) MarshalJSON() ([]byte, error) { return nil, errors.New("cannot marshal") }

type invalidMarshaler struct{}

func (invalidMarshaler) MarshalJSON() ([]byte, error) { return []byte(`{"unterminated":`), nil }

type injectingMarshaler struct{}

// MarshalJSON returns valid JSON that, pasted as is, would add a second
// message to the batch.
func (injectingMarshaler) MarshalJSON() ([]byte, error) {
	return []byte(`  {"a" : 1}  `), nil
}

func deep(levels int) map[string]any {
	m := map[string]any{"leaf": 1}
	for range levels - 1 {
		m = map[string]any{"k": m}
	}
	return m
}

// TestBadInput: each bad message is refused by Enqueue with a
// *ValidationError naming the field (or ErrMessageTooLarge), or accepted
// as a documented no-op or repair; never a panic. All of them go through
// one client together with good messages, which are all delivered in the
// same requests: a bad message never poisons a batch.
func TestBadInput(t *testing.T) {
	t.Parallel()
	nan, inf := math.NaN(), math.Inf(1)
	self := map[string]any{}
	self["self"] = self
	type row struct {
		name string
		msg  analytics.Message
		// field is the ValidationError's Field (ending in * it is a
		// prefix); "" means the message is accepted; "too large" means
		// ErrMessageTooLarge.
		field string
	}
	rows := []row{
		// Zero values of every core message.
		{"zero Identify", analytics.Identify{}, "userId"},
		{"zero Track", analytics.Track{}, "event"},
		{"zero Page", analytics.Page{}, "userId"},
		{"zero Screen", analytics.Screen{}, "userId"},
		{"zero Group", analytics.Group{}, "groupId"},
		{"zero Alias", analytics.Alias{}, "previousId"},
		{"Alias without userId", analytics.Alias{PreviousID: "old"}, "userId"},
		{"blank ids", analytics.Track{UserID: " \t", AnonymousID: "\n", Event: "E"}, "userId"},
		{"blank event", analytics.Track{UserID: "u", Event: "  "}, "event"},
		// nil messages.
		{"nil Message", nil, "message"},
		{"nil *Identify", (*analytics.Identify)(nil), "message"},
		{"nil *Track", (*analytics.Track)(nil), "message"},
		{"nil *Page", (*analytics.Page)(nil), "message"},
		{"nil *Screen", (*analytics.Screen)(nil), "message"},
		{"nil *Group", (*analytics.Group)(nil), "message"},
		{"nil *Alias", (*analytics.Alias)(nil), "message"},
		// Values JSON cannot hold.
		{"NaN property", analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"price": nan}}, "properties.price"},
		{"+Inf trait", analytics.Identify{UserID: "u", Traits: analytics.Traits{"score": inf}}, "traits.score"},
		{"-Inf float32", analytics.Page{UserID: "u", Properties: analytics.Properties{"x": float32(math.Inf(-1))}}, "properties.x"},
		{"NaN in a list", analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"products": []any{map[string]any{"price": 1}, map[string]any{"price": nan}}}}, "properties.products[1].price"},
		{"NaN latitude", analytics.Track{UserID: "u", Event: "E", Context: &analytics.Context{Location: &analytics.LocationInfo{Latitude: &nan}}}, "context.location.latitude"},
		{"Inf screen density", analytics.Screen{UserID: "u", Context: &analytics.Context{Screen: &analytics.ScreenInfo{Density: inf}}}, "context.screen.density"},
		{"NaN integration option", analytics.Track{UserID: "u", Event: "E", Integrations: analytics.Integrations{"X": map[string]any{"rate": nan}}}, "integrations.X.rate"},
		{"chan", analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"c": make(chan int)}}, "properties.c"},
		{"func", analytics.Group{GroupID: "g", Traits: analytics.Traits{"f": func() {}}}, "traits.f"},
		{"complex64", analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"z": complex64(1)}}, "properties.z"},
		{"complex128", analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"z": 1 + 2i}}, "properties.z"},
		{"unsafe.Pointer", analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"p": unsafe.Pointer(&nan)}}, "properties.p"},
		{"struct with a chan", analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"s": struct{ C chan int }{}}}, "properties.s"},
		{"chan in context extra", analytics.Track{UserID: "u", Event: "E", Context: &analytics.Context{Extra: map[string]any{"c": make(chan int)}}}, "context.c"},
		{"chan in context traits", analytics.Track{UserID: "u", Event: "E", Context: &analytics.Context{Traits: analytics.Traits{"c": make(chan int)}}}, "context.traits.c"},
		{"NaN in group relationship", analytics.Group{GroupID: "g", RelationshipAttributes: map[string]any{"r": nan}}, "traits.relationshipAttributes.r"},
		{"NaN in identify relationship", analytics.Identify{UserID: "u", ObjectID: "o", RelationshipAttributes: map[string]any{"r": nan}}, "traits.relationshipAttributes.r"},
		{"year 10000", analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"t": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}, "properties.t"},
		{"year 10000 timestamp", analytics.Track{UserID: "u", Event: "E", Timestamp: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, "timestamp"},
		{"year 10000 once in UTC", analytics.Identify{UserID: "u", Timestamp: time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("UTC-2", -2*3600))}, "timestamp"},
		{"year -1 timestamp", analytics.Page{UserID: "u", Timestamp: time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC)}, "timestamp"},
		{"year 10000 helper time", analytics.VideoContentStarted{UserID: "u", Airdate: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, "properties.airdate"},
		{"overflowing json.Number", analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"n": json.Number("1e400")}}, "properties.n"},
		{"overflow in json.RawMessage", analytics.Identify{UserID: "u", Traits: analytics.Traits{"r": json.RawMessage(`{"x":[-1E+309]}`)}}, "traits.r"},
		{"bad json.Number", analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"n": json.Number("1e")}}, "properties.n"},
		{"MarshalJSON error", analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"m": errMarshaler{}}}, "properties.m"},
		{"MarshalJSON invalid", analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"m": invalidMarshaler{}}}, "properties.m"},
		{"MarshalJSON panics", analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"m": panicMarshaler{}}}, "message"},
		// Nesting.
		{"64 levels", analytics.Track{UserID: "u", Event: "E", Properties: deep(63)}, ""},
		{"65 levels", analytics.Track{UserID: "u", Event: "E", Properties: deep(65)}, "properties.k.k.*"},
		{"10,000 levels", analytics.Track{UserID: "u", Event: "E", Properties: deep(10_000)}, "properties.k.k.*"},
		{"a map holding itself", analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"self": self}}, "properties.self.self.*"},
		// Objects.
		{"bad objectTypeId", analytics.Group{GroupID: "g", ObjectTypeID: "one"}, "objectTypeId"},
		{"object_type_id not a whole number", analytics.Group{GroupID: "g", Traits: analytics.Traits{"object_type_id": 1.5}}, "traits.object_type_id"},
		{"objectTypeId disagrees", analytics.Group{GroupID: "g", ObjectTypeID: "1", Traits: analytics.Traits{"object_type_id": "2"}}, "objectTypeId"},
		{"identify relationship without object", analytics.Identify{UserID: "u", RelationshipAttributes: map[string]any{"r": 1}}, "traits.objectId"},
		// Size.
		{"too large", analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"blob": strings.Repeat("x", analytics.MaxMessageBytes)}}, "too large"},
		{"too large by escapes", analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"blob": strings.Repeat("\x01", analytics.MaxMessageBytes/6+1)}}, "too large"},

		// Accepted: repairs and no-ops.
		{"invalid UTF-8 everywhere", analytics.Track{UserID: "u\xff", Event: "E\xfe", Properties: analytics.Properties{"k\xff": "v\xc3", "list": []string{"\xed\xa0\x80"}}, Context: &analytics.Context{IP: "\xff"}}, ""},
		{"invalid UTF-8 message id", analytics.Track{UserID: "u", Event: "E", MessageID: "id-\xff"}, ""},
		{"nil maps", analytics.Identify{UserID: "u", Traits: nil, Integrations: nil, Context: &analytics.Context{Extra: nil, Traits: nil}}, ""},
		{"nil map values", analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"m": map[string]any(nil), "s": []any(nil), "p": (*int)(nil), "n": nil}}, ""},
		{"zero Context", analytics.Page{AnonymousID: "a", Context: &analytics.Context{}}, ""},
		{"empty Context parts", analytics.Screen{UserID: "u", Context: &analytics.Context{Campaign: &analytics.CampaignInfo{}, Page: &analytics.PageInfo{}, App: &analytics.AppInfo{}, Device: &analytics.DeviceInfo{}, OS: &analytics.OSInfo{}, Network: &analytics.NetworkInfo{}, Location: &analytics.LocationInfo{}, Screen: &analytics.ScreenInfo{}, Referrer: &analytics.ReferrerInfo{}}}, ""},
		{"identify by email", analytics.Identify{Traits: analytics.Traits{"email": "a@example.com"}}, ""},
		{"MarshalJSON with spaces", analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"m": injectingMarshaler{}}}, ""},
		{"control characters", analytics.Track{UserID: "u", Event: "E\x00\b\f", Properties: analytics.Properties{"\u2028": "</script>&"}}, ""},
		{"zero time", analytics.Track{UserID: "u", Event: "E", Timestamp: time.Time{}}, ""},
		{"year 0 timestamp", analytics.Track{UserID: "u", Event: "E", Timestamp: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)}, ""},
	}

	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey))
	c := newTestClient(t, srv.URL, fastRetries(analytics.WithBatchSize(500))...)
	good := 0
	wantAccepted := 0
	for i, r := range rows {
		// A good message before each bad one, in the same batch.
		require.NoError(t, c.Enqueue(track(fmt.Sprint("good-", i))))
		good++
		var err error
		require.NotPanics(t, func() { err = c.Enqueue(r.msg) }, r.name)
		switch r.field {
		case "":
			assert.NoError(t, err, r.name)
			wantAccepted++
		case "too large":
			assert.ErrorIs(t, err, analytics.ErrMessageTooLarge, r.name)
		default:
			var ve *analytics.ValidationError
			if assert.ErrorAs(t, err, &ve, r.name) {
				assert.ErrorIs(t, err, analytics.ErrInvalidMessage, r.name)
				if prefix, ok := strings.CutSuffix(r.field, "*"); ok {
					assert.True(t, strings.HasPrefix(ve.Field, prefix), "%s: field %q", r.name, ve.Field)
					assert.Contains(t, ve.Reason, "nested deeper than 64 levels", r.name)
				} else {
					assert.Equal(t, r.field, ve.Field, "%s: %v", r.name, err)
				}
				assert.Equal(t, 1, strings.Count(err.Error(), "analytics:"), "%s: the error is not nested in itself: %v", r.name, err)
				assert.True(t, utf8.ValidString(err.Error()), "%s: the error is valid UTF-8", r.name)
			}
		}
	}
	require.NoError(t, c.Flush(bounded(t)))
	msgs := srv.Messages()
	assert.Len(t, msgs, good+wantAccepted, "every good message and every accepted one delivered")
	assert.Len(t, srv.Requests(), 1, "all in one batch")
	assert.Empty(t, srv.Violations())
	for _, m := range msgs {
		assert.True(t, json.Valid(m.Raw), "%s", m.Raw)
		assert.True(t, utf8.Valid(m.Raw), "valid UTF-8 on the wire")
		var v map[string]any
		require.NoError(t, json.Unmarshal(m.Raw, &v))
		assert.Contains(t, v, "messageId")
		assert.Contains(t, v, "timestamp")
	}
	st := c.Stats()
	assert.Equal(t, int64(good+wantAccepted), st.Delivered)
	assert.Equal(t, int64(2), st.RejectedTooLarge)
	assert.Equal(t, int64(len(rows)-wantAccepted-2), st.RejectedInvalid)
	statsAddUp(t, st)

	// The repairs, as documented: invalid UTF-8 becomes U+FFFD.
	utf := srv.Find(func(m analyticstest.Message) bool { return m.Event == "E\uFFFD" })
	if assert.Len(t, utf, 1) {
		assert.Equal(t, "u\uFFFD", utf[0].UserID)
		assert.Equal(t, "v\uFFFD", utf[0].Properties["k\uFFFD"])
		assert.Equal(t, []any{"\uFFFD\uFFFD\uFFFD"}, utf[0].Properties["list"])
	}
	ids := srv.Find(func(m analyticstest.Message) bool { return m.MessageID == "id-\uFFFD" })
	assert.Len(t, ids, 1)
	inj := srv.Find(func(m analyticstest.Message) bool { _, ok := m.Properties["m"].(map[string]any); return ok })
	if assert.Len(t, inj, 1) {
		assert.Equal(t, map[string]any{"a": float64(1)}, inj[0].Properties["m"])
		assert.NotContains(t, string(inj[0].Raw), "  ", "foreign JSON is compacted")
	}
}

// TestBadInputCallerMapsReusable: Enqueue snapshots the message: changing
// or clearing the caller's maps right after it returns changes nothing
// that is sent.
func TestBadInputCallerMapsReusable(t *testing.T) {
	t.Parallel()
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey))
	c := newTestClient(t, srv.URL, fastRetries()...)
	props := analytics.Properties{"a": 1, "list": []any{"x"}}
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "Snap", Properties: props}))
	props["a"] = 2
	props["list"].([]any)[0] = "changed"
	clear(props)
	require.NoError(t, c.Flush(bounded(t)))
	msgs := srv.ByEvent("Snap")
	require.Len(t, msgs, 1)
	assert.Equal(t, map[string]any{"a": float64(1), "list": []any{"x"}}, msgs[0].Properties)
}

// TestMessageTooLarge: a 40 KB message is rejected and nothing is sent.
func TestMessageTooLarge(t *testing.T) {
	t.Parallel()
	s := analyticstest.NewServer(t)
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
	t.Parallel()
	s := analyticstest.NewServer(t)
	c := newTestClient(t, s.URL, deterministic()...)
	base := analytics.Track{UserID: "u", Event: "Edge", MessageID: "edge", Properties: analytics.Properties{"p": ""}}
	require.NoError(t, c.Enqueue(base))
	require.NoError(t, c.Flush(bounded(t)))
	size := len(s.Requests()[0].Messages[0].Raw)
	base.Properties = analytics.Properties{"p": strings.Repeat("a", analytics.MaxMessageBytes-size)}
	require.NoError(t, c.Enqueue(base), "exactly MaxMessageBytes")
	base.Properties = analytics.Properties{"p": strings.Repeat("a", analytics.MaxMessageBytes-size+1)}
	require.ErrorIs(t, c.Enqueue(base), analytics.ErrMessageTooLarge)
	require.NoError(t, c.Close())
	reqs := s.Requests()
	require.Len(t, reqs, 2)
	assert.Len(t, reqs[1].Messages[0].Raw, analytics.MaxMessageBytes)
}

// TestNilContext: a nil context is taken as context.Background().
func TestNilContext(t *testing.T) {
	t.Parallel()
	s := analyticstest.NewServer(t)
	c := newTestClient(t, s.URL, deterministic()...)
	//lint:ignore SA1012 a nil context on purpose
	require.NoError(t, c.EnqueueContext(nil, analytics.Track{UserID: "u", Event: "E"}))
	//lint:ignore SA1012 a nil context on purpose
	require.NoError(t, c.Flush(nil))
	//lint:ignore SA1012 a nil context on purpose
	require.NoError(t, c.Shutdown(nil))
	assert.Len(t, acceptedIDs(s), 1)
}

// TestValidation: invalid core calls are rejected by Enqueue with an error
// that names the field, and nothing invalid is sent.
func TestValidation(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		msg   analytics.Message
		field string
	}{
		"identify without anyone":     {analytics.Identify{Traits: analytics.Traits{"plan": "pro"}}, "userId"},
		"identify blank email only":   {analytics.Identify{Traits: analytics.Traits{"email": "  "}}, "userId"},
		"identify email not a string": {analytics.Identify{Traits: analytics.Traits{"email": 42}}, "userId"},
		"track without event":         {analytics.Track{UserID: "u"}, "event"},
		"track with blank event":      {analytics.Track{UserID: "u", Event: "   "}, "event"},
		"track without anyone":        {analytics.Track{Event: "E"}, "userId"},
		"page without anyone":         {analytics.Page{Name: "Home"}, "userId"},
		"screen without anyone":       {analytics.Screen{Name: "Feed"}, "userId"},
		"group without groupId":       {analytics.Group{UserID: "u"}, "groupId"},
		"group bad objectTypeId":      {analytics.Group{GroupID: "g", ObjectTypeID: "company"}, "objectTypeId"},
		"group zero objectTypeId":     {analytics.Group{GroupID: "g", ObjectTypeID: "0"}, "objectTypeId"},
		"group trait type fractional": {analytics.Group{GroupID: "g", Traits: analytics.Traits{"object_type_id": 2.5}}, "traits.object_type_id"},
		"group object types disagree": {analytics.Group{GroupID: "g", ObjectTypeID: "1", Traits: analytics.Traits{"object_type_id": "2"}}, "objectTypeId"},
		"alias without previousId":    {analytics.Alias{UserID: "u"}, "previousId"},
		"alias without userId":        {analytics.Alias{PreviousID: "p"}, "userId"},
		"NaN property":                {analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"price": math.NaN()}}, "properties.price"},
		"Inf in a nested list": {analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{
			"products": []map[string]any{{"price": 1.0}, {"price": math.Inf(1)}},
		}}, "properties.products[1].price"},
		"func trait":         {analytics.Identify{UserID: "u", Traits: analytics.Traits{"f": func() {}}}, "traits.f"},
		"chan in context":    {analytics.Track{UserID: "u", Event: "E", Context: &analytics.Context{Extra: map[string]any{"c": make(chan int)}}}, "context.c"},
		"NaN latitude":       {analytics.Track{UserID: "u", Event: "E", Context: &analytics.Context{Location: &analytics.LocationInfo{Latitude: ptr(math.NaN())}}}, "context.location.latitude"},
		"NaN in integration": {analytics.Track{UserID: "u", Event: "E", Integrations: analytics.Integrations{"X": math.NaN()}}, "integrations.X"},
		"nil message":        {nil, "message"},
		"typed nil message":  {(*analytics.Track)(nil), "message"},
	}
	s := analyticstest.NewServer(t)
	c := newTestClient(t, s.URL, deterministic()...)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := c.Enqueue(tc.msg)
			require.ErrorIs(t, err, analytics.ErrInvalidMessage)
			var ve *analytics.ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tc.field, ve.Field, "error: %v", err)
			assert.Contains(t, err.Error(), tc.field)
		})
	}
	// A good message beside the bad ones is delivered; the bad never are.
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "Good"}))
	require.NoError(t, c.Close())
	accepted := s.Messages()
	require.Len(t, accepted, 1)
	assert.Equal(t, "Good", accepted[0].Event)
	assert.Equal(t, int64(len(cases)), c.Stats().RejectedInvalid)
}

// TestTrackErrorsNameTheEvent: a Track's validation errors name its event
// (trimmed, as sent), whether found before its JSON is written (no person)
// or while writing it (a NaN property, a timestamp RFC 3339 cannot write,
// where the name is read back from the encoded bytes, escapes decoded), and
// so does the error of a Track too large to send.
func TestTrackErrorsNameTheEvent(t *testing.T) {
	t.Parallel()
	s := analyticstest.NewServer(t)
	c := newTestClient(t, s.URL, deterministic()...)
	const event = `Said "hi" \ back` + "\tto\u2028me"
	for name, msg := range map[string]analytics.Track{
		"no person":    {Event: "  " + event + " "},
		"NaN property": {UserID: "u", Event: event, Properties: analytics.Properties{"price": math.NaN()}},
		"timestamp":    {UserID: "u", Event: event, Timestamp: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		err := c.Enqueue(msg)
		var ve *analytics.ValidationError
		require.ErrorAs(t, err, &ve, name)
		assert.Equal(t, "track", ve.Type, name)
		assert.Equal(t, event, ve.Event, name)
	}
	err := c.Enqueue(analytics.Track{UserID: "u", Event: "Big \"one\"", Properties: analytics.Properties{"blob": strings.Repeat("x", analytics.MaxMessageBytes)}})
	require.ErrorIs(t, err, analytics.ErrMessageTooLarge)
	assert.Contains(t, err.Error(), `track "Big \"one\""`)
}

// TestValidCornerCases: calls the API accepts that a strict reading might
// refuse.
func TestValidCornerCases(t *testing.T) {
	t.Parallel()
	s := analyticstest.NewServer(t)
	c := newTestClient(t, s.URL, deterministic()...)
	for _, m := range []analytics.Message{
		analytics.Identify{Traits: analytics.Traits{"email": "only@example.com"}}, // Journeys: email alone
		analytics.Group{GroupID: "acme"},                                          // an object without a person
		analytics.Group{GroupID: "acme", Traits: analytics.Traits{"object_type_id": "3"}},
		analytics.Track{AnonymousID: "anon", Event: "E"},
		analytics.Page{UserID: "u"}, // name is optional
	} {
		require.NoError(t, c.Enqueue(m), "%#v", m)
	}
	require.NoError(t, c.Close())
	assert.Len(t, s.Messages(), 5)
}

// userTrack is a user's Message type: a struct that embeds a core message,
// and so has its appendMessage by promotion. The generated dispatch does not
// list it.
type userTrack struct {
	analytics.Track
	Note string
}

// TestUnlistedMessageTypeRejected: Enqueue refuses a Message type the
// generated type switch does not list with a *ValidationError on the field
// "message" that names the type and says to pass the embedded core message;
// nothing is queued, and the embedded message itself is accepted.
func TestUnlistedMessageTypeRejected(t *testing.T) {
	t.Parallel()
	fake := analyticstest.NewTransport(t)
	c := newTestClient(t, fake.URL, through(fake)...)
	msg := userTrack{Track: analytics.Track{UserID: "u", Event: "E"}, Note: "n"}
	for _, m := range []analytics.Message{msg, &msg} {
		err := c.Enqueue(m)
		var ve *analytics.ValidationError
		require.ErrorAs(t, err, &ve, "Enqueue(%T)", m)
		require.ErrorIs(t, err, analytics.ErrInvalidMessage, "Enqueue(%T)", m)
		assert.Equal(t, "message", ve.Field)
		for _, want := range []string{reflect.TypeOf(m).String(), "pass the core message it embeds"} {
			assert.Contains(t, err.Error(), want)
		}
	}
	assert.Zero(t, c.Stats().Enqueued, "nothing queued")
	assert.NoError(t, c.Enqueue(msg.Track), "the embedded Track")
	assert.NoError(t, c.Flush(bounded(t)))
	st := c.Stats()
	assert.Equal(t, int64(1), st.Enqueued)
	assert.Equal(t, int64(1), st.Delivered)
	assert.Len(t, fake.Messages(), 1)
}
