package analytics_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	proxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	lb      = "10.1.2.3:41234" // a trusted proxy, as the peer
)

// TestContextFromRequestIP: the client's IP address, from the peer or,
// behind trusted proxies only, from the forwarding headers, right to left.
// A spoofed header from an untrusted peer is ignored, and so is one that
// lies left of the last untrusted address.
func TestContextFromRequestIP(t *testing.T) {
	for _, tc := range []struct {
		name    string
		remote  string
		header  http.Header
		trusted []netip.Prefix
		want    string
	}{
		{"no proxy, no header", "203.0.113.7:5555", nil, nil, "203.0.113.7"},
		{"spoofed X-Forwarded-For without trusted proxies", "203.0.113.7:5555",
			http.Header{"X-Forwarded-For": {"1.2.3.4"}}, nil, "203.0.113.7"},
		{"spoofed X-Forwarded-For from an untrusted peer", "203.0.113.7:5555",
			http.Header{"X-Forwarded-For": {"1.2.3.4"}}, proxies, "203.0.113.7"},
		{"spoofed Forwarded from an untrusted peer", "203.0.113.7:5555",
			http.Header{"Forwarded": {"for=1.2.3.4"}}, proxies, "203.0.113.7"},
		{"behind a trusted proxy", lb,
			http.Header{"X-Forwarded-For": {"198.51.100.20"}}, proxies, "198.51.100.20"},
		{"a client's spoofed entry left of the real one", lb,
			http.Header{"X-Forwarded-For": {"1.2.3.4, 198.51.100.20"}}, proxies, "198.51.100.20"},
		{"two trusted proxies", lb,
			http.Header{"X-Forwarded-For": {"1.2.3.4, 198.51.100.20, 10.9.9.9"}}, proxies, "198.51.100.20"},
		{"several header lines", lb,
			http.Header{"X-Forwarded-For": {"1.2.3.4", "198.51.100.20, 10.9.9.9"}}, proxies, "198.51.100.20"},
		{"every hop trusted", lb,
			http.Header{"X-Forwarded-For": {"10.7.7.7, 10.9.9.9"}}, proxies, "10.7.7.7"},
		{"a port in X-Forwarded-For", lb,
			http.Header{"X-Forwarded-For": {"198.51.100.20:443"}}, proxies, "198.51.100.20"},
		{"Forwarded", lb,
			http.Header{"Forwarded": {`for=1.2.3.4, for=198.51.100.20;proto=https;by=10.1.2.3`}}, proxies, "198.51.100.20"},
		{"Forwarded, IPv6 quoted with a port", lb,
			http.Header{"Forwarded": {`for="[2001:db8:cafe::17]:4711", for="[2001:db8:ffff::1]"`}}, proxies, "2001:db8:cafe::17"},
		{"Forwarded naming no address", lb,
			http.Header{"Forwarded": {"for=unknown"}}, proxies, ""},
		{"Forwarded, obfuscated", lb,
			http.Header{"Forwarded": {"for=198.51.100.20, for=_hidden"}}, proxies, ""},
		{"both headers agree", lb, http.Header{
			"Forwarded":       {"for=198.51.100.20"},
			"X-Forwarded-For": {"198.51.100.20"}}, proxies, "198.51.100.20"},
		{"both headers disagree: one is the client's", lb, http.Header{
			"Forwarded":       {"for=1.2.3.4"},
			"X-Forwarded-For": {"198.51.100.20"}}, proxies, ""},
		{"a trusted peer without a header", lb, nil, proxies, "10.1.2.3"},
		{"IPv4-mapped peer", "[::ffff:10.1.2.3]:80",
			http.Header{"X-Forwarded-For": {"198.51.100.20"}}, proxies, "198.51.100.20"},
		{"a trusted proxy given IPv4-mapped", lb,
			http.Header{"X-Forwarded-For": {"198.51.100.20"}},
			[]netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}, "198.51.100.20"},
		{"garbage in the header", lb,
			http.Header{"X-Forwarded-For": {"<script>"}}, proxies, ""},
		{"unparsable RemoteAddr", "pipe", nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://shop.example.com/cart", nil)
			r.RemoteAddr = tc.remote
			for k, v := range tc.header {
				r.Header[k] = v
			}
			assert.Equal(t, tc.want, analytics.ContextFromRequest(r, tc.trusted...).IP)
		})
	}
}

// TestContextFromRequestPage: user agent, locale, and the page, whose URL
// takes its scheme and host from the forwarding headers only behind a
// trusted proxy.
func TestContextFromRequestPage(t *testing.T) {
	r := httptest.NewRequest("GET", "http://internal:8080/docs/start?lang=de&x=1", nil)
	r.RemoteAddr = lb
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11)")
	r.Header.Set("Accept-Language", "fr;q=0.5, de-CH, en;q=0.9, *;q=1")
	r.Header.Set("Referer", "https://www.example.org/search?q=docs")
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", "docs.example.com")
	r.Header.Set("X-Forwarded-For", "198.51.100.20")

	c := analytics.ContextFromRequest(r, proxies...)
	assert.Equal(t, analytics.Context{
		IP:        "198.51.100.20",
		UserAgent: "Mozilla/5.0 (X11)",
		Locale:    "de-CH",
		Page: &analytics.PageInfo{
			URL:      "https://docs.example.com/docs/start?lang=de&x=1",
			Path:     "/docs/start",
			Search:   "?lang=de&x=1",
			Referrer: "https://www.example.org/search?q=docs",
		},
	}, c)

	// Without trusting the peer, the forwarded scheme and host are not
	// believed either.
	c = analytics.ContextFromRequest(r)
	assert.Equal(t, "http://internal:8080/docs/start?lang=de&x=1", c.Page.URL)
	assert.Equal(t, "10.1.2.3", c.IP)

	// Forwarded's proto and host, of the element that names the client.
	r.Header.Del("X-Forwarded-Proto")
	r.Header.Del("X-Forwarded-Host")
	r.Header.Del("X-Forwarded-For")
	r.Header.Set("Forwarded", `for=198.51.100.20;proto=https;host="shop.example.com", for=10.2.2.2;proto=http;host=internal`)
	c = analytics.ContextFromRequest(r, proxies...)
	assert.Equal(t, "https://shop.example.com/docs/start?lang=de&x=1", c.Page.URL)

	// TLS without a proxy; no Accept-Language.
	r = httptest.NewRequest("GET", "https://example.com/", nil)
	r.TLS = &tls.ConnectionState{}
	c = analytics.ContextFromRequest(r)
	assert.Equal(t, "https://example.com/", c.Page.URL)
	assert.Empty(t, c.Locale)
}

// TestMiddlewareFillsOnlyWhatTheMessageLeftEmpty: behind Middleware,
// EnqueueContext(r.Context(), msg) takes the request's IP, user agent,
// locale and page for the context fields msg leaves empty; msg's own win,
// and the client's default context comes under both. A plain Enqueue
// takes nothing from the request.
func TestMiddlewareFillsOnlyWhatTheMessageLeftEmpty(t *testing.T) {
	srv := analyticstest.NewServer(t)
	c := newTestClient(t, srv.URL, analytics.WithDefaultContext(analytics.Context{
		Locale: "en-US", Channel: analytics.ChannelServer, App: &analytics.AppInfo{Name: "shop"},
	}))
	handler := analytics.Middleware(proxies...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, c.EnqueueContext(r.Context(), analytics.Track{UserID: "u", Event: "Viewed"}))
		require.NoError(t, c.EnqueueContext(r.Context(), analytics.Track{UserID: "u", Event: "Own IP",
			Context: &analytics.Context{IP: "192.0.2.1", Page: &analytics.PageInfo{Title: "Cart"}}}))
		require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "Plain"}))
		got, ok := analytics.FromContext(r.Context())
		assert.True(t, ok)
		assert.Equal(t, "198.51.100.20", got.IP)
	}))
	r := httptest.NewRequest("GET", "http://shop.example.com/cart?step=2", nil)
	r.RemoteAddr = lb
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.20")
	r.Header.Set("User-Agent", "curl/8")
	r.Header.Set("Accept-Language", "de-DE")
	handler.ServeHTTP(httptest.NewRecorder(), r)
	require.NoError(t, c.Flush(bounded(t)))

	msgs := srv.Messages()
	require.Len(t, msgs, 3)
	ctx := contextOf(t, msgs[0])
	assert.Equal(t, "198.51.100.20", ctx["ip"])
	assert.Equal(t, "curl/8", ctx["userAgent"])
	assert.Equal(t, "de-DE", ctx["locale"], "the request's locale wins over the client's default")
	assert.Equal(t, "server", ctx["channel"], "the client's default fills the rest")
	assert.Equal(t, map[string]any{"name": "shop"}, ctx["app"])
	assert.Equal(t, map[string]any{"url": "http://shop.example.com/cart?step=2", "path": "/cart", "search": "?step=2"}, ctx["page"])

	own := contextOf(t, msgs[1])
	assert.Equal(t, "192.0.2.1", own["ip"], "the message's own IP wins")
	assert.Equal(t, "Cart", own["page"].(map[string]any)["title"])
	assert.Equal(t, "/cart", own["page"].(map[string]any)["path"], "nested structs merge field by field")

	plain := contextOf(t, msgs[2])
	assert.Nil(t, plain["ip"], "Enqueue has no request")
	assert.Equal(t, "en-US", plain["locale"])

	_, ok := analytics.FromContext(t.Context())
	assert.False(t, ok)
}

// TestMiddlewareInvalidPrefix: a zero Prefix is a mistake at start-up.
func TestMiddlewareInvalidPrefix(t *testing.T) {
	assert.Panics(t, func() { analytics.Middleware(netip.Prefix{}) })
	// ContextFromRequest ignores it.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "203.0.113.7:1"
	assert.Equal(t, "203.0.113.7", analytics.ContextFromRequest(r, netip.Prefix{}).IP)
}
