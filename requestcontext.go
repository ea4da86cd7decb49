package analytics

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// requestContextKey is the key of the Context a Middleware (or NewContext)
// stores in a context.Context.
type requestContextKey struct{}

// NewContext returns a copy of parent that carries c, the context of the
// messages sent on its behalf: EnqueueContext(ctx, msg) fills the context
// fields msg leaves empty from it (see WithDefaultContext for the merge).
// Middleware calls it with ContextFromRequest; a gRPC interceptor or a job
// runner may call it with what it knows. c is copied.
func NewContext(parent context.Context, c Context) context.Context {
	return context.WithValue(parent, requestContextKey{}, cloneContext(&c))
}

// FromContext returns a copy of the Context that NewContext or Middleware
// stored in ctx, and whether there was one.
func FromContext(ctx context.Context) (Context, bool) {
	c := requestContext(ctx)
	if c == nil {
		return Context{}, false
	}
	return *cloneContext(c), true
}

// requestContext returns the Context stored in ctx, read-only, or nil.
func requestContext(ctx context.Context) *Context {
	if ctx == nil {
		return nil
	}
	c, _ := ctx.Value(requestContextKey{}).(*Context)
	return c
}

// Middleware returns HTTP middleware that stores the context of each
// request (ContextFromRequest with trustedProxies) in the request's
// context.Context, for EnqueueContext(r.Context(), msg) to merge into the
// messages the handler sends: the caller's IP address, from which
// Customer.io infers a person's location and time zone, the user agent,
// the locale and the page.
//
// With no trusted proxies the IP address is the peer's (RemoteAddr) and
// the forwarding headers are ignored, so a client cannot choose its
// address; behind a load balancer or a reverse proxy, name the proxies'
// addresses (see ContextFromRequest). Middleware panics if a prefix is not
// valid.
func Middleware(trustedProxies ...netip.Prefix) func(http.Handler) http.Handler {
	trusted := masked(trustedProxies, true)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := contextFromRequest(r, trusted)
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestContextKey{}, &c)))
		})
	}
}

// masked returns the prefixes, masked (203.0.113.7/24 is 203.0.113.0/24)
// and unmapped, leaving out invalid ones, or panicking on one if strict.
func masked(prefixes []netip.Prefix, strict bool) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		if !p.IsValid() {
			if strict {
				panic("analytics: Middleware: invalid trusted proxy prefix " + strconv.Quote(p.String()))
			}
			continue
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out
}

// ContextFromRequest returns what r says about the person who sent it, as
// a message Context: the IP address, the User-Agent, the locale (the
// preferred language of Accept-Language) and the page (its URL, path,
// query and referrer).
//
// The IP address is the peer's (r.RemoteAddr) unless the peer is one of
// trustedProxies: then it is read from the forwarding headers, RFC 7239's
// Forwarded or X-Forwarded-For, right to left, skipping the addresses of
// trusted proxies: the first address that is not one is the client's.
// Each proxy appends the address it received the request from, so what
// lies left of the last untrusted address was written by the client and
// is never believed. With no trusted proxies the headers are ignored. A
// request that carries both headers and whose two headers name different
// clients has been given one of them by its client (a proxy sets only the
// one it knows): the IP address is then left empty, rather than guessed,
// and so it is when the client's entry is not an IP address ("unknown", an
// obfuscated identifier). Invalid prefixes are ignored.
//
// The page URL is the one the client asked for: its scheme and host come
// from the Forwarded header's proto and host, or X-Forwarded-Proto and
// X-Forwarded-Host, when the peer is a trusted proxy, and from the request
// itself otherwise. The URL includes the query, as the browser's page
// context does; a transform (WithTransform) may remove what must not be
// sent.
func ContextFromRequest(r *http.Request, trustedProxies ...netip.Prefix) Context {
	return contextFromRequest(r, masked(trustedProxies, false))
}

func contextFromRequest(r *http.Request, trusted []netip.Prefix) Context {
	c := Context{UserAgent: r.UserAgent(), Locale: preferredLocale(r.Header.Values("Accept-Language"))}
	peer, peerOK := remoteAddr(r.RemoteAddr)
	behindProxy := peerOK && len(trusted) > 0 && isTrusted(peer, trusted)
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	switch {
	case !peerOK:
	case !behindProxy:
		c.IP = peer.String()
	default:
		fw, fwProto, fwHost, fwOK := fromForwarded(r.Header.Values("Forwarded"), trusted)
		xff, xffOK := fromXForwardedFor(r.Header.Values("X-Forwarded-For"), trusted)
		switch {
		case fwOK && xffOK:
			if fw == xff {
				c.IP = fw
			}
		case fwOK:
			c.IP = fw
		case xffOK:
			c.IP = xff
		default:
			// No header: the trusted proxy did not say, so the peer
			// is the best known address.
			c.IP = peer.String()
		}
		if fwProto == "" {
			fwProto = lastValue(r.Header.Values("X-Forwarded-Proto"))
		}
		if fwHost == "" {
			fwHost = lastValue(r.Header.Values("X-Forwarded-Host"))
		}
		if p := strings.ToLower(fwProto); p == "http" || p == "https" {
			scheme = p
		}
		if validHost(fwHost) {
			host = fwHost
		}
	}
	if r.URL != nil {
		page := &PageInfo{Path: r.URL.Path, Referrer: r.Referer()}
		if r.URL.RawQuery != "" {
			page.Search = "?" + r.URL.RawQuery
		}
		if validHost(host) {
			page.URL = scheme + "://" + host + r.URL.RequestURI()
		}
		c.Page = page
	}
	return c
}

// remoteAddr parses a RemoteAddr: host:port, or a bare address.
func remoteAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

// isTrusted reports whether a falls in one of the trusted prefixes.
func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// client walks the hops of a forwarding header from the right and returns
// the first that is not a trusted proxy, as text, with ok; ok is false
// when there is no hop. The text is empty when that hop is not an IP
// address (the client cannot be known) and the leftmost hop's when every
// hop is trusted.
func client(hops []string, trusted []netip.Prefix) (ip string, index int, ok bool) {
	if len(hops) == 0 {
		return "", 0, false
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := parseHop(hops[i])
		if err != nil {
			return "", i, true
		}
		if i == 0 || !isTrusted(a, trusted) {
			return a.String(), i, true
		}
	}
	return "", 0, true // not reached
}

// parseHop parses one address of a forwarding header: an IP address,
// maybe with a port, maybe in brackets.
func parseHop(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), nil
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	return a.Unmap().WithZone(""), err
}

// fromXForwardedFor returns the client of X-Forwarded-For headers (their
// comma-separated addresses, in order); see client.
func fromXForwardedFor(values []string, trusted []netip.Prefix) (string, bool) {
	var hops []string
	for _, v := range values {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hops = append(hops, h)
			}
		}
	}
	ip, _, ok := client(hops, trusted)
	return ip, ok
}

// fromForwarded returns the client of Forwarded headers (RFC 7239): the
// for= parameter of each element, in order; see client. It also returns
// the proto= and host= of the element that names the client, which
// describe the request that client sent.
func fromForwarded(values []string, trusted []netip.Prefix) (ip, proto, host string, ok bool) {
	type element struct{ forValue, proto, host string }
	var elems []element
	var hops []string
	for _, v := range values {
		for _, el := range splitQuoted(v, ',') {
			var e element
			for _, pair := range splitQuoted(el, ';') {
				name, value, found := strings.Cut(pair, "=")
				if !found {
					continue
				}
				value = strings.TrimSpace(value)
				if uq, err := strconv.Unquote(value); err == nil && strings.HasPrefix(value, `"`) {
					value = uq
				}
				switch strings.ToLower(strings.TrimSpace(name)) {
				case "for":
					e.forValue = value
				case "proto":
					e.proto = value
				case "host":
					e.host = value
				}
			}
			if e.forValue != "" {
				elems = append(elems, e)
				hops = append(hops, e.forValue)
			}
		}
	}
	ip, i, ok := client(hops, trusted)
	if !ok {
		return "", "", "", false
	}
	return ip, elems[i].proto, elems[i].host, true
}

// splitQuoted splits s at sep outside double-quoted strings, trimming the
// parts and leaving out empty ones.
func splitQuoted(s string, sep byte) []string {
	var parts []string
	quoted, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			if p := strings.TrimSpace(s[start:i]); p != "" {
				parts = append(parts, p)
			}
			start = i + 1
		}
	}
	if p := strings.TrimSpace(s[start:]); p != "" {
		parts = append(parts, p)
	}
	return parts
}

// lastValue returns the last comma-separated value of the headers, the one
// the nearest proxy wrote.
func lastValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	v := values[len(values)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

// validHost reports whether h is a host, with an optional port, fit to be
// put in a URL.
func validHost(h string) bool {
	if h == "" || strings.ContainsAny(h, "/?#@ \t\\\"") {
		return false
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		host, port = h, ""
	}
	if port != "" {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return false
		}
	}
	return host != ""
}

// preferredLocale returns the language tag of Accept-Language headers with
// the highest quality (the first of equals), as in "en-US,en;q=0.9"; ""
// when there is none but "*".
func preferredLocale(values []string) string {
	best, bestQ := "", -1.0
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			tag, params, _ := strings.Cut(strings.TrimSpace(item), ";")
			tag = strings.TrimSpace(tag)
			if tag == "" || tag == "*" || !languageTag(tag) {
				continue
			}
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(strings.TrimSpace(name), "q") {
					f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
					if err != nil || f < 0 || f > 1 {
						f = 0
					}
					q = f
				}
			}
			if q > bestQ && q > 0 {
				best, bestQ = tag, q
			}
		}
	}
	return best
}

// languageTag reports whether s looks like a BCP 47 language tag: letters,
// digits and hyphens, at most 35 characters, starting with a letter.
func languageTag(s string) bool {
	if len(s) > 35 || !isLetter(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLetter(c) && !(c >= '0' && c <= '9') && c != '-' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
