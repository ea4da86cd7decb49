package analytics

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cdpkit/analytics-go/internal/jsonw"
)

// The encoder's writers of one field each, which the core calls (encode.go)
// and the generated typed helpers share: one writer per kind of value.
// Each writes `"key":value` into the object being written, preceded by a
// comma when needed, and most write nothing for an absent value (the
// optX writers for a nil pointer, str for ""). A writer that can fail for
// a value inside a map returns its error relative to the map, and the
// caller names the field with e.wrap; a float that JSON cannot hold is
// reported false, and the caller names the field with e.notFinite. So a
// valid message costs no string for a path, however deep its field.

// key writes `"k":`, preceded by a comma when needed.
func (e *encoder) key(k string) {
	e.buf = jsonw.AppendKey(e.buf, k)
}

// str writes key: value unless value is empty.
func (e *encoder) str(key, value string) {
	if value == "" {
		return
	}
	e.key(key)
	e.buf = jsonw.AppendString(e.buf, value)
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

// optBool writes key: *v unless v is nil.
func (e *encoder) optBool(key string, v *bool) {
	if v != nil {
		e.key(key)
		e.buf = jsonw.AppendBool(e.buf, *v)
	}
}

// int writes key: v.
func (e *encoder) int(key string, v int) {
	e.key(key)
	e.buf = strconv.AppendInt(e.buf, int64(v), 10)
}

// optInt writes key: *v unless v is nil.
func (e *encoder) optInt(key string, v *int) {
	if v != nil {
		e.int(key, *v)
	}
}

// float writes key: v and reports true, or, for a NaN or an infinity,
// which JSON cannot hold, writes nothing and reports false.
func (e *encoder) float(key string, v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return false
	}
	e.key(key)
	e.buf, _ = jsonw.AppendFloat(e.buf, v, 64)
	return true
}

// optFloat is float for *v, and writes nothing for a nil v.
func (e *encoder) optFloat(key string, v *float64) bool {
	return v == nil || e.float(key, *v)
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
	if v != nil {
		e.key(key)
		e.buf = jsonw.AppendStrings(e.buf, v)
	}
}

// object writes key: m, an empty m as {}; the caller decides whether an
// empty or nil map is sent at all. The error, if any, is a *jsonw.Error
// relative to m, for e.wrap. m does not escape (see jsonw.AppendMap).
func (e *encoder) object(key string, m map[string]any) error {
	e.key(key)
	var err error
	e.buf, err = jsonw.AppendMap(e.buf, m)
	return err
}

// optObject writes key: m unless m is empty, naming the field of an error
// by path: the maps of the core calls (traits, properties,
// relationshipAttributes, integrations), where an empty map is absent.
func (e *encoder) optObject(path, key string, m map[string]any) error {
	if len(m) == 0 {
		return nil
	}
	if err := e.object(key, m); err != nil {
		return e.wrap(path, err)
	}
	return nil
}

// entries writes the entries of m whose keys skip does not report (skip
// may be nil) into the object being written: the Extra of a typed helper,
// whose set fields win over the same keys. The error, if any, is relative
// to m, for e.wrap.
func (e *encoder) entries(m map[string]any, skip func(string) bool) error {
	var err error
	e.buf, err = jsonw.AppendMapEntries(e.buf, m, skip)
	return err
}

// mergedEntries is entries for the entries of m and, under them, those of
// defaults whose keys m lacks (jsonw.AppendMergedEntries): the maps of a
// context merged with the default context.
func (e *encoder) mergedEntries(m, defaults map[string]any, skip func(string) bool) error {
	var err error
	e.buf, err = jsonw.AppendMergedEntries(e.buf, m, defaults, skip)
	return err
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
