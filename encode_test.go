package analytics_test

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestValidation: invalid core calls are rejected by Enqueue with an error
// that names the field, and nothing invalid is sent.
func TestValidation(t *testing.T) {
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
	s := newSink(t)
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
	accepted := s.Accepted()
	require.Len(t, accepted, 1)
	assert.Equal(t, "Good", accepted[0]["event"])
	assert.Equal(t, int64(len(cases)), c.Stats().RejectedInvalid)
}

// TestTrackErrorsNameTheEvent: a Track's validation errors name its event
// (trimmed, as sent), whether found before its JSON is written (no person)
// or while writing it (a NaN property, a timestamp RFC 3339 cannot write,
// where the name is read back from the encoded bytes, escapes decoded), and
// so does the error of a Track too large to send.
func TestTrackErrorsNameTheEvent(t *testing.T) {
	s := newSink(t)
	c := newTestClient(t, s.URL, deterministic()...)
	const event = `Said "hi" \ back` + "\tto\u2028me"
	for name, msg := range map[string]analytics.Track{
		"no person":    {Event: "  " + event + " "},
		"NaN property": {UserID: "u", Event: event, Properties: analytics.Properties{"price": math.NaN()}},
		"timestamp":    {UserID: "u", Event: event, Timestamp: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		err := c.Enqueue(msg)
		var ve *analytics.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("%s: got %v, want a *ValidationError", name, err)
		}
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
	s := newSink(t)
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
	assert.Len(t, s.Accepted(), 5)
}

// TestEncodeOnce: Enqueue takes a snapshot; changing the maps afterwards
// changes nothing that is sent.
func TestEncodeOnce(t *testing.T) {
	s := newSink(t)
	c := newTestClient(t, s.URL, deterministic()...)
	props := analytics.Properties{"step": 1}
	ctx := &analytics.Context{IP: "192.0.2.1"}
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "E", Properties: props, Context: ctx}))
	props["step"] = 2
	props["added"] = true
	ctx.IP = "192.0.2.99"
	require.NoError(t, c.Close())
	got := s.Accepted()
	require.Len(t, got, 1)
	assert.Equal(t, map[string]any{"step": 1.0}, got[0]["properties"])
	assert.Equal(t, "192.0.2.1", got[0]["context"].(map[string]any)["ip"])
}

// TestDefaultsFilled: type, a UUID messageId, a UTC millisecond timestamp
// and context.library are filled in; the caller's id and time are kept.
func TestDefaultsFilled(t *testing.T) {
	s := newSink(t)
	c, err := analytics.New(testKey, analytics.WithEndpoint(s.URL), analytics.WithLogger(quietLogger()))
	require.NoError(t, err)
	own := time.Date(2024, 2, 29, 12, 0, 0, 999_999_999, time.FixedZone("X", -5*3600))
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "Defaults"}))
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "Own", MessageID: "my-id", Timestamp: own}))
	require.NoError(t, c.Close())
	got := s.Accepted()
	require.Len(t, got, 2)
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, got[0]["messageId"])
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, got[0]["timestamp"])
	assert.Equal(t, "track", got[0]["type"])
	assert.Equal(t, map[string]any{"name": analytics.LibraryName, "version": analytics.Version}, got[0]["context"].(map[string]any)["library"])
	assert.Equal(t, "my-id", got[1]["messageId"])
	assert.Equal(t, "2024-02-29T17:00:00.999Z", got[1]["timestamp"])
}

// TestValuesLikeEncodingJSON: user values come out as encoding/json would
// write them.
func TestValuesLikeEncodingJSON(t *testing.T) {
	type custom struct {
		A int    `json:"a"`
		B string `json:"b,omitempty"`
	}
	values := map[string]any{
		"str":     "quote\" backslash\\ newline\n tab\t <html> & \u2028 é",
		"invalid": "bad\xffutf8",
		"int64":   int64(math.MaxInt64),
		"uint8":   uint8(255),
		"float":   1e21,
		"small":   1e-7,
		"f32":     float32(0.1),
		"bool":    false,
		"nil":     nil,
		"time":    time.Date(2020, 1, 2, 3, 4, 5, 6, time.FixedZone("Y", 3600)),
		"struct":  custom{A: 1},
		"ptr":     &custom{A: 2, B: "x"},
		"nilptr":  (*custom)(nil),
		"ints":    []int{1, 2},
		"strmap":  map[string]string{"b": "2", "a": "1"},
		"intmap":  map[string]int{"z": 26, "a": 1},
		"bytes":   []byte("hi"),
		"number":  json.Number("12.50"),
		"raw":     json.RawMessage(`{"k": [1, 2]}`),
		"nested":  map[string]any{"list": []any{1, "two", map[string]any{"three": 3}}},
	}
	s := newSink(t)
	c := newTestClient(t, s.URL, deterministic()...)
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "Values", Properties: values}))
	require.NoError(t, c.Close())
	var got struct {
		Properties json.RawMessage `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(s.Requests()[0].messages[0], &got))
	want, err := json.Marshal(values)
	require.NoError(t, err)
	var gotV, wantV any
	require.NoError(t, json.Unmarshal(got.Properties, &gotV))
	require.NoError(t, json.Unmarshal(want, &wantV))
	assert.Equal(t, wantV, gotV)
}

// TestAPIKeyNeverLogged: across failures, retries and drops, the API key
// appears in no log line and no error.
func TestAPIKeyNeverLogged(t *testing.T) {
	s := newSink(t)
	for range 100 {
		s.Script(
			analyticstest.Response{Status: http.StatusServiceUnavailable},
			analyticstest.Response{Status: http.StatusUnauthorized, Body: "unauthorized " + testKey}, // even an API that echoes it
			analyticstest.Response{},
		)
	}
	var logs logCapture
	c, err := analytics.New(testKey, analytics.WithEndpoint(s.URL), analytics.WithLogger(logs.Logger()),
		analytics.WithBatchSize(1), analytics.WithQueueCapacity(2), analytics.WithMaxInFlight(1),
		analytics.WithRetryWait(time.Millisecond, time.Millisecond))
	require.NoError(t, err)
	var errs []error
	for range 20 {
		if err := c.Enqueue(analytics.Track{UserID: "u", Event: "E"}); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, c.Enqueue(analytics.Track{}), c.Flush(bounded(t)), c.Close())
	out := logs.String()
	require.Contains(t, out, "level=WARN", "the run produced retries")
	require.Contains(t, out, "level=ERROR", "the run produced losses")
	assert.NotContains(t, out, testKey)
	for _, err := range errs {
		if err != nil {
			assert.NotContains(t, err.Error(), testKey)
		}
	}
	var apiErr *analytics.APIError
	require.ErrorAs(t, errors.Join(errs...), &apiErr, "the 401's answer is reported")
	assert.Contains(t, apiErr.Body, "[redacted]", "an answer that echoes the key is redacted")
}

// TestRedactionBeforeTruncation: a key the API echoes at the edge of the
// kept excerpt is not left in part.
func TestRedactionBeforeTruncation(t *testing.T) {
	for _, pad := range []int{490, 500, 505, 511} {
		s := newSink(t, analyticstest.Response{Status: http.StatusBadRequest, Body: strings.Repeat("a", pad) + " bad key " + testKey + " end"})
		c := newTestClient(t, s.URL, deterministic()...)
		require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "E"}))
		err := c.Flush(bounded(t))
		var apiErr *analytics.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.LessOrEqual(t, len(apiErr.Body), 512)
		for i := 4; i <= len(testKey); i++ {
			assert.NotContains(t, err.Error(), testKey[:i], "pad %d: a prefix of the key leaked", pad)
		}
		require.NoError(t, c.Close())
	}
}

// TestKeyWhitespaceTrimmed: a key with a trailing newline, as read from a
// file, authenticates as the key itself.
func TestKeyWhitespaceTrimmed(t *testing.T) {
	s := newSink(t)
	c, err := analytics.New(" "+testKey+"\n", analytics.WithEndpoint(s.URL), analytics.WithLogger(quietLogger()))
	require.NoError(t, err)
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "E"}))
	require.NoError(t, c.Close())
	assert.Equal(t, testKey, s.Requests()[0].user)
}
