package analytics_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// This file tests what goes on the wire: each core call as the API
// receives it (the goldens in testdata/golden/core), the fields the client
// fills in, user values written as encoding/json writes them, and the
// request around them (basic auth, gzip). The typed helpers' goldens are
// in helpers_golden_test.go, sentAt in sentat_test.go.

// TestEncodeOnce: Enqueue takes a snapshot; changing the maps afterwards
// changes nothing that is sent.
func TestEncodeOnce(t *testing.T) {
	t.Parallel()
	s := analyticstest.NewServer(t)
	c := newTestClient(t, s.URL, deterministic()...)
	props := analytics.Properties{"step": 1}
	ctx := &analytics.Context{IP: "192.0.2.1"}
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "E", Properties: props, Context: ctx}))
	props["step"] = 2
	props["added"] = true
	ctx.IP = "192.0.2.99"
	require.NoError(t, c.Close())
	got := s.Messages()
	require.Len(t, got, 1)
	assert.Equal(t, map[string]any{"step": 1.0}, got[0].Properties)
	assert.Equal(t, "192.0.2.1", got[0].Context["ip"])
}

// TestDefaultsFilled: type, a UUID messageId, a UTC millisecond timestamp
// and context.library are filled in; the caller's id and time are kept.
func TestDefaultsFilled(t *testing.T) {
	t.Parallel()
	s := analyticstest.NewServer(t)
	c, err := analytics.New(testKey, analytics.WithEndpoint(s.URL), analytics.WithLogger(quietLogger()))
	require.NoError(t, err)
	own := time.Date(2024, 2, 29, 12, 0, 0, 999_999_999, time.FixedZone("X", -5*3600))
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "Defaults"}))
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "Own", MessageID: "my-id", Timestamp: own}))
	require.NoError(t, c.Close())
	var got []map[string]any
	for _, m := range s.Messages() {
		got = append(got, decoded(t, m))
	}
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
	t.Parallel()
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
	s := analyticstest.NewServer(t)
	c := newTestClient(t, s.URL, deterministic()...)
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "Values", Properties: values}))
	require.NoError(t, c.Close())
	var got struct {
		Properties json.RawMessage `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(s.Requests()[0].Messages[0].Raw, &got))
	want, err := json.Marshal(values)
	require.NoError(t, err)
	var gotV, wantV any
	require.NoError(t, json.Unmarshal(got.Properties, &gotV))
	require.NoError(t, json.Unmarshal(want, &wantV))
	assert.Equal(t, wantV, gotV)
}

// TestKeyWhitespaceTrimmed: a key with a trailing newline, as read from a
// file, authenticates as the key itself.
func TestKeyWhitespaceTrimmed(t *testing.T) {
	t.Parallel()
	s := analyticstest.NewServer(t)
	c, err := analytics.New(" "+testKey+"\n", analytics.WithEndpoint(s.URL), analytics.WithLogger(quietLogger()))
	require.NoError(t, err)
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "E"}))
	require.NoError(t, c.Close())
	assert.Equal(t, testKey, s.Requests()[0].APIKey)
}

var update = flag.Bool("update", false, "rewrite golden files")

// coreMessages are the core calls with every field set.
func coreMessages() map[string]analytics.Message {
	ctx := &analytics.Context{
		Active:    ptr(true),
		IP:        "203.0.113.7",
		Locale:    "en-US",
		UserAgent: "Mozilla/5.0",
		Channel:   analytics.ChannelServer,
		Timezone:  "Europe/Berlin",
		Campaign:  &analytics.CampaignInfo{Name: "spring", Source: "newsletter", Medium: "email", Extra: map[string]any{"utm_id": "42"}},
		Page:      &analytics.PageInfo{Path: "/pricing", URL: "https://example.com/pricing", Title: "Pricing", Keywords: []string{"price"}},
		App:       &analytics.AppInfo{Name: "shop", Version: "1.2.3", Build: "45"},
		Device:    &analytics.DeviceInfo{ID: "d1", Manufacturer: "Apple", Model: "iPhone16,1", Type: "ios"},
		OS:        &analytics.OSInfo{Name: "iOS", Version: "18.1"},
		Network:   &analytics.NetworkInfo{WiFi: ptr(true), Cellular: ptr(false)},
		Location:  &analytics.LocationInfo{City: "Berlin", Country: "DE", Latitude: ptr(52.52), Longitude: ptr(13.405)},
		Screen:    &analytics.ScreenInfo{Width: 1179, Height: 2556, Density: 3},
		Referrer:  &analytics.ReferrerInfo{Type: "link", URL: "https://example.org"},
		Extra:     map[string]any{"ip": "ignored: the field wins", "library": "ignored", "custom": map[string]any{"b": 2, "a": 1}},
	}
	ts := time.Date(2025, 12, 31, 23, 59, 59, 123_456_789, time.FixedZone("CET", 3600))
	integ := analytics.Integrations{"All": true, "Salesforce": false}
	return map[string]analytics.Message{
		"identify": analytics.Identify{
			UserID: "97980cfea0067", AnonymousID: "c0e5cae6-6f04-46e4-97a8-25076e8bdc0b",
			Traits:    analytics.Traits{"email": "cool.person@example.com", "name": "Cool Person", "likes_baseball": true, "games_attended": 5, "createdAt": time.Date(2019, 8, 24, 14, 15, 22, 0, time.UTC)},
			Timestamp: ts, Context: ctx, Integrations: integ, MessageID: "identify-1",
		},
		"track": analytics.Track{
			UserID: "AiUGstSDIg", Event: "  Course Started ",
			Properties: analytics.Properties{"title": "Intro to Customer.io", "price": 0, "tags": []string{"a", "b"}, "nested": map[string]any{"n": nil}},
			Timestamp:  ts, Context: ctx, Integrations: integ, MessageID: "track-1",
		},
		"page": analytics.Page{
			AnonymousID: "507f191e810c19729de860ea", Name: "Home",
			Properties: analytics.Properties{"url": "https://example.com/", "title": "Welcome"},
			Context:    ctx, MessageID: "page-1",
		},
		"screen": analytics.Screen{
			UserID: "97980cfea0067", Name: "feed",
			Properties: analytics.Properties{"subscriptions": []any{"news"}},
			Context:    ctx, MessageID: "screen-1",
		},
		"group": analytics.Group{
			UserID: "97980cfea0067", GroupID: "acme", ObjectTypeID: "1",
			Traits:                 analytics.Traits{"name": "ACME, Inc.", "industry": "Technology", "employees": 329},
			RelationshipAttributes: map[string]any{"role": "admin"},
			Integrations:           integ, MessageID: "group-1",
		},
		"alias": analytics.Alias{UserID: "new-id", PreviousID: "old-id", MessageID: "alias-1"},
	}
}

// TestCoreGolden checks each core call as it arrives at the API.
func TestCoreGolden(t *testing.T) {
	t.Parallel()
	s := analyticstest.NewServer(t)
	c := newTestClient(t, s.URL, deterministic()...)
	msgs := coreMessages()
	names := []string{"identify", "track", "page", "screen", "group", "alias"}
	for _, name := range names {
		require.NoError(t, c.Enqueue(msgs[name]), name)
	}
	require.NoError(t, c.Close())

	reqs := s.Requests()
	require.Len(t, reqs, 1, "six small messages fit in one batch")
	r := reqs[0]
	assert.Equal(t, "/v1/batch", r.Path)
	assert.Equal(t, testKey, r.APIKey, "basic auth user is the API key")
	assert.Empty(t, s.Violations(), "basic auth password is empty (the fake checks it)")
	var env map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &env))
	assert.Equal(t, "2026-01-02T03:04:05.678Z", env["sentAt"])
	assert.Len(t, env, 2, "no batch-level context or integrations")
	require.Len(t, r.Messages, len(names))
	for i, name := range names {
		checkGolden(t, filepath.Join("testdata", "golden", "core", name+".json"), r.Messages[i].Raw)
	}
}

// checkGolden compares got, pretty-printed, with the golden file, or
// rewrites the file under -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, got, "", "  "))
	pretty.WriteByte('\n')
	require.False(t, strings.Contains(pretty.String(), testKey), "%s: the API key must not appear in a golden file", path)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, pretty.Bytes(), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -run %s -update to create it", t.Name())
	assert.Equal(t, string(want), pretty.String(), "%s differs; run go test -run %s -update if the change is intended", path, t.Name())
}

// TestGzip: bodies are compressed when asked, and limits apply to the
// uncompressed body.
func TestGzip(t *testing.T) {
	t.Parallel()
	s := analyticstest.NewServer(t)
	c := newTestClient(t, s.URL, deterministic(analytics.WithGzip(true))...)
	for range 50 {
		require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "Zipped", Properties: analytics.Properties{"text": strings.Repeat("abc", 100)}}))
	}
	require.NoError(t, c.Close())
	reqs := s.Requests()
	require.Len(t, reqs, 1)
	assert.Less(t, reqs[0].WireSize, len(reqs[0].Body)/5, "compressed")
	assert.Len(t, acceptedIDs(s), 50)
	assert.Equal(t, int64(reqs[0].WireSize), c.Stats().BytesSent)
}

// TestClockOutOfRange: a WithClock time outside years 0-9999 never goes
// out as text that is not RFC 3339, neither as a message timestamp nor as
// sentAt; the fake would refuse the batch otherwise.
func TestClockOutOfRange(t *testing.T) {
	t.Parallel()
	for _, now := range []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-5, 6, 1, 0, 0, 0, 0, time.UTC),
	} {
		t.Run(fmt.Sprint(now.Year()), func(t *testing.T) {
			srv := analyticstest.NewServer(t)
			c := newTestClient(t, srv.URL, fastRetries(analytics.WithClock(func() time.Time { return now }))...)
			require.NoError(t, c.Enqueue(track("t1")))
			require.NoError(t, c.Flush(bounded(t)))
			msgs := srv.Messages()
			require.Len(t, msgs, 1)
			assert.False(t, msgs[0].Timestamp.IsZero())
			assert.True(t, msgs[0].Timestamp.Year() == 0 || msgs[0].Timestamp.Year() == 9999, "%v", msgs[0].Timestamp)
			assert.Empty(t, srv.Violations())
		})
	}
}

type badUTF8Marshaler struct{}

func (badUTF8Marshaler) MarshalJSON() ([]byte, error) { return []byte("{\"name\":\"caf\xe9\"}"), nil }

// TestInvalidUTF8FromMarshalerRepaired: invalid UTF-8 in a MarshalJSON
// result or a json.RawMessage is sent as U+FFFD, never raw.
func TestInvalidUTF8FromMarshalerRepaired(t *testing.T) {
	t.Parallel()
	srv := analyticstest.NewServer(t)
	c := newTestClient(t, srv.URL, fastRetries()...)
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{
		"m": badUTF8Marshaler{},
		"r": json.RawMessage("[\"x\xff\"]"),
	}}))
	require.NoError(t, c.Flush(bounded(t)))
	msgs := srv.Messages()
	require.Len(t, msgs, 1)
	raw := string(msgs[0].Raw)
	assert.True(t, utf8.ValidString(raw), "raw invalid UTF-8 sent: %q", raw)
	assert.Equal(t, map[string]any{"name": "caf\uFFFD"}, msgs[0].Properties["m"])
	assert.Equal(t, []any{"x\uFFFD"}, msgs[0].Properties["r"])
	assert.Equal(t, 2, strings.Count(raw, "\uFFFD"))
}

// TestWithTimestamps: the time of a message without a Timestamp, and the
// sentAt of its request, come from WithTimestamps' function; WithClock, its
// deprecated name, does the same.
func TestWithTimestamps(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for name, opt := range map[string]analytics.Option{
		"WithTimestamps": analytics.WithTimestamps(func() time.Time { return at }),
		"WithClock":      analytics.WithClock(func() time.Time { return at }),
	} {
		tr := analyticstest.NewTransport(t)
		c, err := analytics.New("key", analytics.WithHTTPClient(tr.Client()), analytics.WithEndpoint("http://127.0.0.1:1"), opt)
		require.NoError(t, err)
		require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "Timed"}))
		require.NoError(t, c.Close())
		reqs := tr.Requests()
		require.Len(t, reqs, 1, name)
		require.Len(t, reqs[0].Messages, 1, name)
		assert.True(t, reqs[0].Messages[0].Timestamp.Equal(at), "%s: timestamp %v, want %v", name, reqs[0].Messages[0].Timestamp, at)
		assert.True(t, reqs[0].SentAt.Equal(at), "%s: sentAt %v, want %v", name, reqs[0].SentAt, at)
	}
}
