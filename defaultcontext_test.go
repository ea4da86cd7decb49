package analytics_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDefaultContextMerge: the default context fills what the message's
// context leaves empty, field by field and in nested structs; the message
// wins; maps merge by key; context.library is always this library's; a
// message without a context gets the default whole; and the caller's
// default can change after New without effect.
func TestDefaultContextMerge(t *testing.T) {
	def := analytics.Context{
		IP:      "198.51.100.1",
		Locale:  "de-DE",
		Channel: analytics.ChannelServer,
		App:     &analytics.AppInfo{Name: "shop", Version: "1.0", Build: "7"},
		Device:  &analytics.DeviceInfo{Manufacturer: "Google"},
		Traits:  analytics.Traits{"plan": "free", "region": "eu"},
		Extra:   map[string]any{"library": "not ours", "tenant": "acme", "deployment": "blue"},
	}
	srv := analyticstest.NewServer(t)
	c := newTestClient(t, srv.URL, deterministic(analytics.WithDefaultContext(def))...)
	def.IP, def.App.Name, def.Traits["plan"] = "changed", "changed", "changed" // after New: no effect

	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "Bare"}))
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "Own", Context: &analytics.Context{
		IP:     "203.0.113.9",
		App:    &analytics.AppInfo{Version: "2.0"},
		Device: &analytics.DeviceInfo{Token: "tok"},
		Traits: analytics.Traits{"plan": "pro"},
		Extra:  map[string]any{"deployment": "green"},
	}}))
	require.NoError(t, c.Flush(bounded(t)))
	msgs := srv.Messages()
	require.Len(t, msgs, 2)

	library := map[string]any{"name": analytics.LibraryName, "version": analytics.Version}
	assert.Equal(t, map[string]any{
		"ip": "198.51.100.1", "locale": "de-DE", "channel": "server",
		"app":    map[string]any{"name": "shop", "version": "1.0", "build": "7"},
		"device": map[string]any{"manufacturer": "Google"},
		"traits": map[string]any{"plan": "free", "region": "eu"},
		"tenant": "acme", "deployment": "blue",
		"library": library,
	}, contextOf(t, msgs[0]))
	assert.Equal(t, map[string]any{
		"ip": "203.0.113.9", "locale": "de-DE", "channel": "server",
		"app":    map[string]any{"name": "shop", "version": "2.0", "build": "7"},
		"device": map[string]any{"manufacturer": "Google", "token": "tok"},
		"traits": map[string]any{"plan": "pro", "region": "eu"},
		"tenant": "acme", "deployment": "green",
		"library": library,
	}, contextOf(t, msgs[1]))
}

func contextOf(t *testing.T, m analyticstest.Message) map[string]any {
	t.Helper()
	var v struct {
		Context map[string]any `json:"context"`
	}
	require.NoError(t, json.Unmarshal(m.Raw, &v))
	return v.Context
}

// TestDefaultContextSameWithTransforms: the merge done as a message is
// written (no transform) and the merge done into the Envelope (with a
// transform) send the same bytes, for 300 random pairs of a message
// context and a default, every field and nested struct of Context set or
// not at random.
func TestDefaultContextSameWithTransforms(t *testing.T) {
	rng := rand.New(rand.NewPCG(20, 0))
	for i := range 300 {
		def, own := randomContext(rng), randomContext(rng)
		msg := analytics.Track{UserID: "u", Event: "E", Context: own}
		plain, errs := sendAll(t, []analytics.Message{msg}, analytics.WithDefaultContext(*def))
		require.NoError(t, errs[0])
		shaped, errs := sendAll(t, []analytics.Message{msg}, analytics.WithDefaultContext(*def), analytics.WithTransform(keepAll))
		require.NoError(t, errs[0])
		require.Equal(t, string(plain[0].Raw), string(shaped[0].Raw), "case %d", i)
	}
}

// randomContext returns a Context with each field set with probability
// one half, from a small set of values so that both sides of a merge
// often set the same fields.
func randomContext(rng *rand.Rand) *analytics.Context {
	s := func(name string) string {
		if rng.IntN(2) == 0 {
			return ""
		}
		return fmt.Sprintf("%s-%d", name, rng.IntN(3))
	}
	b := func() *bool {
		if rng.IntN(2) == 0 {
			return nil
		}
		v := rng.IntN(2) == 0
		return &v
	}
	f := func() *float64 {
		if rng.IntN(2) == 0 {
			return nil
		}
		v := float64(rng.IntN(90))
		return &v
	}
	m := func() map[string]any {
		if rng.IntN(2) == 0 {
			return nil
		}
		out := map[string]any{}
		for _, k := range []string{"a", "b", "ip", "library", "page", "traits", "name"} {
			if rng.IntN(3) == 0 {
				out[k] = s(k)
			}
		}
		return out
	}
	some := func() bool { return rng.IntN(2) == 0 }
	c := &analytics.Context{Active: b(), IP: s("ip"), Locale: s("locale"), UserAgent: s("ua"),
		Channel: analytics.Channel(s("ch")), Timezone: s("tz"), GroupID: s("g"), Traits: m(), Extra: m()}
	if some() {
		c.Campaign = &analytics.CampaignInfo{Name: s("n"), Source: s("s"), Medium: s("m"), Term: s("t"), Content: s("c"), Extra: m()}
	}
	if some() {
		c.Page = &analytics.PageInfo{Name: s("n"), Path: s("p"), Referrer: s("r"), Search: s("s"), Title: s("t"), URL: s("u")}
		if some() {
			c.Page.Keywords = []string{s("k")}
		}
	}
	if some() {
		c.App = &analytics.AppInfo{Name: s("n"), Version: s("v"), Build: s("b"), Namespace: s("ns")}
	}
	if some() {
		c.Device = &analytics.DeviceInfo{ID: s("id"), Manufacturer: s("m"), Model: s("mo"), Name: s("n"), Type: s("t"),
			Token: s("tok"), AdvertisingID: s("ad"), AdTrackingEnabled: b()}
	}
	if some() {
		c.OS = &analytics.OSInfo{Name: s("n"), Version: s("v")}
	}
	if some() {
		c.Network = &analytics.NetworkInfo{Bluetooth: b(), Cellular: b(), WiFi: b(), Carrier: s("c")}
	}
	if some() {
		c.Location = &analytics.LocationInfo{City: s("c"), Country: s("co"), Region: s("r"), Latitude: f(), Longitude: f(), Speed: f()}
	}
	if some() {
		c.Screen = &analytics.ScreenInfo{Width: rng.IntN(2) * 100, Height: rng.IntN(2) * 200, Density: float64(rng.IntN(3))}
	}
	if some() {
		c.Referrer = &analytics.ReferrerInfo{Type: s("t"), Name: s("n"), URL: s("u"), Link: s("l"), ID: s("id")}
	}
	return c
}

// TestDefaultContextInvalid: a default context JSON cannot hold is an
// error from New, not from every Enqueue.
func TestDefaultContextInvalid(t *testing.T) {
	for _, c := range []analytics.Context{
		{Location: &analytics.LocationInfo{Latitude: ptr(math.NaN())}},
		{Traits: analytics.Traits{"f": func() {}}},
		{Extra: map[string]any{"ch": make(chan int)}},
	} {
		_, err := analytics.New(testKey, analytics.WithDefaultContext(c))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "WithDefaultContext")
	}
}
