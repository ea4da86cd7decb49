package analytics

//go:generate go run ./internal/gen

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cdpkit/analytics-go/internal/jsonw"
)

// This file holds the hand-written pieces the generated typed helpers
// (semantic.go, ecommerce.go, video.go, email.go, lifecycle.go,
// livechat.go, abtest.go) share. The helpers themselves are generated from
// internal/catalog/catalog.json by internal/gen; run go generate after
// changing the catalog.

// Float64 returns a pointer to v, for the *float64 fields of the typed
// helpers: a nil field is not sent, so Price: analytics.Float64(0) sends an
// explicit "price": 0.
func Float64(v float64) *float64 { return &v }

// Int returns a pointer to v, for the *int fields of the typed helpers: a
// nil field is not sent, so Position: analytics.Int(0) sends an explicit
// "position": 0.
func Int(v int) *int { return &v }

// Bool returns a pointer to v, for the *bool fields of the typed helpers: a
// nil field is not sent, so FullScreen: analytics.Bool(false) sends an
// explicit "full_screen": false.
func Bool(v bool) *bool { return &v }

// withDevice returns a copy of c (which may be nil) whose Device is a copy
// of c.Device with the token and, when set, the type of d: the device a
// CreateOrUpdateDevice or DeleteDevice call is about wins over the device
// the message was sent from. The caller's Context is not changed.
func withDevice(c *Context, d *Device) *Context {
	var merged Context
	if c != nil {
		merged = *c
	}
	var info DeviceInfo
	if merged.Device != nil {
		info = *merged.Device
	}
	info.Token = d.Token
	if d.Type != "" {
		info.Type = string(d.Type)
	}
	merged.Device = &info
	return &merged
}

// id writes key: value unless value is blank: a blank identifier counts as
// absent in validation, so it is never sent either.
func (e *encoder) id(key, value string) {
	if !blank(value) {
		e.str(key, value)
	}
}

// person writes the userId of a helper that may name the person by email:
// the userId, or without one the email, which Customer.io looks up as an
// email address (its destination reads the person only from userId). The
// email is trimmed: Customer.io takes " a@example.com" for an id, not an
// email, and would act on nobody.
func (e *encoder) person(userID, email string) {
	if blank(userID) {
		userID = strings.TrimSpace(email)
	}
	e.id("userId", userID)
}

// requireAnonymousID checks the identity of an event Customer.io reads
// only the anonymousId of.
func (e *encoder) requireAnonymousID(anonymousID string) error {
	if blank(anonymousID) {
		return e.invalid("anonymousId", "anonymousId is required for this event: Customer.io names its person only by anonymousId, so a userId alone does nothing")
	}
	return nil
}

// blank reports whether s is empty or only spaces.
func blank(s string) bool { return strings.TrimSpace(s) == "" }

// shapePath returns the wire path of key inside the value at base, which is
// element i of an array when i >= 0. An empty key names the value itself.
func shapePath(base string, i int, key string) string {
	p := base
	if i >= 0 {
		p += "[" + strconv.Itoa(i) + "]"
	}
	if key != "" {
		p += "." + key
	}
	return p
}

// requireUserID checks the identity of an event that needs a userId.
func (e *encoder) requireUserID(userID string) error {
	if blank(userID) {
		return e.invalid("userId", "userId is required for this event (an anonymousId is not enough)")
	}
	return nil
}

// requireUserIDOrEmail checks the identity of an event that needs a userId
// or, without one, an email (sent as the userId).
func (e *encoder) requireUserIDOrEmail(userID, email string) error {
	if blank(userID) && blank(email) {
		return e.invalid("userId", "userId or an email is required for this event (without a userId the email is sent as the userId)")
	}
	return nil
}

// badEnum reports a value outside a property's documented values, listed in
// allowed.
func (e *encoder) badEnum(field, got, allowed string) error {
	return e.invalid(field, "must be one of "+allowed+", not "+strconv.Quote(got))
}

// outOfRange reports a number outside a property's bounds; want says which.
func (e *encoder) outOfRange(field string, got float64, want string) error {
	return e.invalid(field, want+", not "+strconv.FormatFloat(got, 'g', -1, 64))
}

// notFinite reports a NaN or infinite number, which JSON cannot hold.
func (e *encoder) notFinite(field string, v float64) error {
	return e.invalid(field, "number "+strconv.FormatFloat(v, 'g', -1, 64)+" has no JSON form")
}

// key writes `"k":`, preceded by a comma when needed.
func (e *encoder) key(k string) {
	e.buf = jsonw.AppendKey(e.buf, k)
}

// openProperties starts the properties object and returns where it began,
// for closeProperties.
func (e *encoder) openProperties() int {
	start := len(e.buf)
	e.buf = append(e.buf, `,"properties":{`...)
	return start
}

// closeProperties ends the properties object opened at start, or removes it
// when nothing was written into it.
func (e *encoder) closeProperties(start int) {
	if e.buf[len(e.buf)-1] == '{' {
		e.buf = e.buf[:start]
		return
	}
	e.buf = append(e.buf, '}')
}

// floatOK writes key: v and reports whether v has a JSON form.
func (e *encoder) floatOK(key string, v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return false
	}
	e.key(key)
	e.buf, _ = jsonw.AppendFloat(e.buf, v, 64)
	return true
}

// optTime writes key: t as an ISO-8601 string unless t is zero. Its
// callers write inside properties. A time outside years 0-9999 in UTC is
// a validation error, as it is in Properties and as Timestamp: AppendTime
// would clamp it, silently sending another date.
func (e *encoder) optTime(key string, t time.Time) {
	if t.IsZero() {
		return
	}
	if !jsonw.TimeInRange(t) && e.err == nil {
		e.err = e.invalid("properties."+key, "year "+strconv.Itoa(t.UTC().Year())+" is outside of 0-9999 in UTC, which RFC 3339 cannot write")
	}
	e.key(key)
	e.buf = jsonw.AppendTime(e.buf, t)
}

// strs writes key: v unless v is nil.
func (e *encoder) strs(key string, v []string) {
	if v == nil {
		return
	}
	e.key(key)
	e.buf = append(e.buf, '[')
	for i, s := range v {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.buf = jsonw.AppendString(e.buf, s)
	}
	e.buf = append(e.buf, ']')
}

// mapValue writes key: m. The error, if any, is a *jsonw.Error relative to
// m, for e.wrap. m does not escape (see jsonw.AppendMap).
func (e *encoder) mapValue(key string, m map[string]any) error {
	e.key(key)
	var err error
	e.buf, err = jsonw.AppendMap(e.buf, m)
	return err
}

// entries writes the entries of m that skip does not reject into the
// object being written. The error, if any, is relative to m, for e.wrap.
func (e *encoder) entries(m map[string]any, skip func(string) bool) error {
	var err error
	e.buf, err = jsonw.AppendMapEntries(e.buf, m, skip)
	return err
}
