package analyticstest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/cdpkit/analytics-go/internal/catalog"
)

// analyticsPkg is the import path of the package whose message types As
// knows.
const analyticsPkg = "github.com/cdpkit/analytics-go"

// As decodes the message into v, which must be a pointer to a message
// struct of package analytics: a core call such as analytics.Identify or
// analytics.Track, or a typed helper such as analytics.OrderCompleted or
// analytics.DeletePerson. It is the inverse of what the client sends, so
// a test can compare what was received with what its code enqueued:
//
//	got, err := analyticstest.As[analytics.OrderCompleted](srv.ByEvent("Order Completed")[0])
//
// The typed helpers put their documented properties under "properties" (a
// few also in "context" or at the top level) and the identifiers at the
// top level, so plain json.Unmarshal does not fit them: As maps each wire
// key to its Go field with the event catalog the helpers are generated
// from. Undocumented properties go to the helper's Extra field. For a core
// call, Properties, Traits and Integrations receive the objects of the
// same names, less the keys that have fields of their own (such as
// traits.relationshipAttributes).
//
// The decoded message carries what the client filled in: MessageID,
// Timestamp, and a Context holding what was sent in "context" besides
// context.library (nil when nothing else was). Numbers in maps decode as
// float64, as with encoding/json; numbers in typed fields must fit them.
//
// As returns an error if the message is of another type or event than v
// (a Track message with the event "Order Completed" decodes into
// analytics.OrderCompleted, and also into analytics.Track), if a value
// does not fit its field, or if a key has no field to go to.
func (m Message) As(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("analyticstest: As needs a non-nil pointer to a message struct, got %T", v)
	}
	t := rv.Elem().Type()
	kind, err := messageKind(t)
	if err != nil {
		return err
	}
	if m.Type != kind.typ || (kind.event != nil && m.Event != kind.event.Name) {
		return fmt.Errorf("analyticstest: As(%s): message is %s", typeName(t), m)
	}
	top, err := decodeObject(m.Raw)
	if err != nil {
		return fmt.Errorf("analyticstest: As(%s): %w", typeName(t), err)
	}
	out := reflect.New(t).Elem()
	d := &decoder{cat: kind.cat}
	if err := d.message(out, top, kind.event); err != nil {
		return fmt.Errorf("analyticstest: As(%s) of %s: %w", typeName(t), m, err)
	}
	rv.Elem().Set(out)
	return nil
}

// As returns the message decoded into a T, as Message.As does; T is a
// message struct of package analytics such as analytics.OrderCompleted.
func As[T any](m Message) (T, error) {
	var v T
	err := m.As(&v)
	return v, err
}

// MessagesAs returns the accepted messages that decode into a T, decoded:
// for a typed helper such as analytics.OrderCompleted, the track messages
// with its event name; for a core call such as analytics.Identify, the
// messages of its type. It returns an error if one of them does not
// decode.
func MessagesAs[T any](r *Recorder) ([]T, error) {
	var zero T
	t := reflect.TypeOf(zero)
	if t == nil || t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("analyticstest: MessagesAs needs a message struct type, got %T", zero)
	}
	kind, err := messageKind(t)
	if err != nil {
		return nil, err
	}
	var out []T
	for _, m := range r.Messages() {
		if m.Type != kind.typ || (kind.event != nil && m.Event != kind.event.Name) {
			continue
		}
		v, err := As[T](m)
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

// kind is what a Go message type is on the wire.
type kind struct {
	typ   string         // wire type
	event *catalog.Event // the catalog event of a typed helper, or nil
	cat   *catalog.Catalog
}

var loadCatalog = sync.OnceValues(catalog.Load)

func messageKind(t reflect.Type) (kind, error) {
	if t.PkgPath() != analyticsPkg {
		return kind{}, fmt.Errorf("analyticstest: %s is not a message type of package analytics", typeName(t))
	}
	cat, err := loadCatalog()
	if err != nil {
		return kind{}, fmt.Errorf("analyticstest: %w", err)
	}
	if typ, ok := coreTypes[t.Name()]; ok {
		return kind{typ: typ, cat: cat}, nil
	}
	for i := range cat.Events {
		if cat.Events[i].GoName == t.Name() {
			return kind{typ: TypeTrack, event: &cat.Events[i], cat: cat}, nil
		}
	}
	return kind{}, fmt.Errorf("analyticstest: %s is neither a core call nor a typed helper", typeName(t))
}

func typeName(t reflect.Type) string {
	if t.PkgPath() == analyticsPkg {
		return "analytics." + t.Name()
	}
	return t.String()
}

// decodeObject decodes a JSON object keeping numbers as json.Number, so
// that integers decode exactly.
func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	return obj, nil
}

type decoder struct {
	cat *catalog.Catalog
}

// message fills out, a message struct, from the top-level object of a
// message. ev is the catalog event of a typed helper, or nil.
func (d *decoder) message(out reflect.Value, top map[string]any, ev *catalog.Event) error {
	props, err := object(top["properties"], "properties")
	if err != nil {
		return err
	}
	traits, err := object(top["traits"], "traits")
	if err != nil {
		return err
	}
	ctx, err := object(top["context"], "context")
	if err != nil {
		return err
	}
	props, traits, ctx = clone(props), clone(traits), clone(ctx)
	delete(ctx, "library")

	t := out.Type()
	var extra reflect.Value
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		dst := out.Field(i)
		if ev != nil {
			if p := findGoName(ev.Properties, f.Name); p != nil {
				var v any
				var ok bool
				switch p.Placement() {
				case catalog.InTop:
					v, ok = top[p.Key]
				case catalog.InPropertiesAndContext:
					v, ok = take(props, p.Key)
					dropCopy(ctx, p.Key, v)
				case catalog.InContext:
					v, ok = takePath(ctx, p.Key, nil)
				default:
					v, ok = take(props, p.Key)
				}
				if ok && p.Context != "" {
					takePath(ctx, p.Context, v) // the copy sent in context
				}
				if ok {
					if err := d.assign(dst, v, wirePath(p.Placement(), p.Key)); err != nil {
						return err
					}
				}
				continue
			}
		}
		var err error
		switch f.Name {
		case "Extra":
			extra = dst
			continue
		case "Timestamp":
			err = d.assignFrom(dst, top, "timestamp", "timestamp")
		case "Context":
			continue // below, once every key sent in both places is taken
		case "Integrations":
			err = d.assignFrom(dst, top, "integrations", "integrations")
		case "Properties":
			if len(props) > 0 {
				err = d.assign(dst, props, "properties")
			}
			props = nil
		case "Traits":
			continue // below, once the trait keys with fields are taken
		case "Email":
			if ev == nil {
				return fmt.Errorf("field Email is unknown")
			}
			err = d.assignFrom(dst, props, "email", "properties.email")
			delete(props, "email")
			if f, ok := t.FieldByName("UserID"); ok && dst.String() != "" && out.FieldByIndex(f.Index).String() == strings.TrimSpace(dst.String()) {
				// Without a UserID the email, trimmed, is sent as the
				// userId: a userId equal to it is the email's copy.
				out.FieldByIndex(f.Index).SetString("")
			}
		case "ObjectID", "ObjectTypeID", "RelationshipAttributes":
			// Group sends objectTypeId at the top level; Identify sends
			// all three in traits.
			key := wireKey(f.Name)
			if _, ok := top[key]; ok {
				err = d.assignFrom(dst, top, key, key)
				if f.Name == "ObjectTypeID" && traits["object_type_id"] == top[key] {
					// Group sends its ObjectTypeID in traits too.
					delete(traits, "object_type_id")
				}
			} else {
				err = d.assignFrom(dst, traits, key, "traits."+key)
				delete(traits, key)
			}
		default:
			if ev != nil && !isCommon(f.Name) {
				return fmt.Errorf("field %s is not in the catalog", f.Name)
			}
			key := wireKey(f.Name)
			err = d.assignFrom(dst, top, key, key)
		}
		if err != nil {
			return err
		}
	}
	if f, ok := t.FieldByName("Traits"); ok && len(traits) > 0 {
		if err := d.assign(out.FieldByIndex(f.Index), traits, "traits"); err != nil {
			return err
		}
	}
	if f, ok := t.FieldByName("Context"); ok && len(ctx) > 0 {
		if err := d.assign(out.FieldByIndex(f.Index), ctx, "context"); err != nil {
			return err
		}
	}
	if len(props) > 0 {
		if !extra.IsValid() {
			return fmt.Errorf("properties %s have no field", keys(props))
		}
		return d.assign(extra, props, "properties")
	}
	return nil
}

// dropCopy removes from ctx[key] what was sent there as a copy of v, the
// value of a property sent both in properties and in context (a device):
// the keys of ctx[key] whose values equal those of v. What is left, such
// as the model of the device the message was sent from, stays for the
// message's Context.
func dropCopy(ctx map[string]any, key string, v any) {
	c, ok := ctx[key].(map[string]any)
	if !ok {
		if reflect.DeepEqual(ctx[key], v) {
			delete(ctx, key)
		}
		return
	}
	pv, _ := v.(map[string]any)
	left := make(map[string]any, len(c))
	for k, e := range c {
		if pe, ok := pv[k]; !ok || !reflect.DeepEqual(pe, e) {
			left[k] = e
		}
	}
	if len(left) == 0 {
		delete(ctx, key)
	} else {
		ctx[key] = left
	}
}

// takePath removes and returns the value at the dotted path inside m, and
// the objects left empty on the way. With want not nil, it removes the
// value only if it equals want (a copy of a value sent elsewhere).
func takePath(m map[string]any, path string, want any) (any, bool) {
	k, rest, nested := strings.Cut(path, ".")
	v, ok := m[k]
	if !ok {
		return nil, false
	}
	if !nested {
		if want != nil && !reflect.DeepEqual(v, want) {
			return nil, false
		}
		delete(m, k)
		return v, true
	}
	sub, isObj := v.(map[string]any)
	if !isObj {
		return nil, false
	}
	sub = clone(sub)
	got, ok := takePath(sub, rest, want)
	if len(sub) == 0 {
		delete(m, k)
	} else {
		m[k] = sub
	}
	return got, ok
}

// isCommon reports whether name is a field every typed helper has.
func isCommon(name string) bool {
	for _, n := range catalog.ReservedGoNames {
		if n == name {
			return true
		}
	}
	return false
}

func wirePath(placement, key string) string {
	switch placement {
	case catalog.InTop:
		return key
	case catalog.InContext:
		return "context." + key
	default:
		return "properties." + key
	}
}

// assignFrom assigns obj[key] to dst if it is present.
func (d *decoder) assignFrom(dst reflect.Value, obj map[string]any, key, path string) error {
	v, ok := obj[key]
	if !ok {
		return nil
	}
	return d.assign(dst, v, path)
}

var timeType = reflect.TypeFor[time.Time]()

// assign stores the decoded JSON value v in dst. A JSON null leaves dst
// zero.
func (d *decoder) assign(dst reflect.Value, v any, path string) error {
	if v == nil {
		return nil
	}
	t := dst.Type()
	if t == timeType {
		s, ok := v.(string)
		if !ok {
			return mismatch(path, "an RFC 3339 time string", v)
		}
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("%s: %q is not an RFC 3339 time", path, s)
		}
		dst.Set(reflect.ValueOf(ts))
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		if err := d.assign(p.Elem(), v, path); err != nil {
			return err
		}
		dst.Set(p)
	case reflect.Interface:
		n := normalize(v)
		if n == nil {
			return nil
		}
		nv := reflect.ValueOf(n)
		if !nv.Type().AssignableTo(t) {
			return mismatch(path, t.String(), v)
		}
		dst.Set(nv)
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return mismatch(path, "an object", v)
		}
		if obj == nil {
			return nil
		}
		if t.Key().Kind() != reflect.String {
			return fmt.Errorf("%s: cannot decode into %s", path, t)
		}
		m := reflect.MakeMapWithSize(t, len(obj))
		for k, e := range obj {
			ev := reflect.New(t.Elem()).Elem()
			if err := d.assign(ev, e, path+"."+k); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), ev)
		}
		dst.Set(m)
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			return mismatch(path, "an array", v)
		}
		s := reflect.MakeSlice(t, len(arr), len(arr))
		for i, e := range arr {
			if err := d.assign(s.Index(i), e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		dst.Set(s)
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return mismatch(path, "an object", v)
		}
		return d.object(dst, clone(obj), path)
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return mismatch(path, "a string", v)
		}
		dst.SetString(s)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return mismatch(path, "a boolean", v)
		}
		dst.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			return mismatch(path, "an integer", v)
		}
		i, err := integer(n)
		if err != nil || dst.OverflowInt(i) {
			return fmt.Errorf("%s: %s does not fit %s", path, n, t)
		}
		dst.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(json.Number)
		if !ok {
			return mismatch(path, "an integer", v)
		}
		i, err := integer(n)
		if err != nil || i < 0 || dst.OverflowUint(uint64(i)) {
			return fmt.Errorf("%s: %s does not fit %s", path, n, t)
		}
		dst.SetUint(uint64(i))
	case reflect.Float32, reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			return mismatch(path, "a number", v)
		}
		f, err := n.Float64()
		if err != nil || dst.OverflowFloat(f) {
			return fmt.Errorf("%s: %s does not fit %s", path, n, t)
		}
		dst.SetFloat(f)
	default:
		return fmt.Errorf("%s: cannot decode into %s", path, t)
	}
	return nil
}

// object fills the struct dst from obj. The keys are those of the catalog
// shape of the same name (such as Product) or, for other structs (such as
// analytics.Context), the field names in lower camel case; keys without a
// field go to the struct's Extra map, if it has one.
func (d *decoder) object(dst reflect.Value, obj map[string]any, path string) error {
	t := dst.Type()
	var shape *catalog.Shape
	if t.PkgPath() == analyticsPkg {
		if s, ok := d.cat.Shapes[t.Name()]; ok {
			shape = &s
		}
	}
	var extra reflect.Value
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Name == "Extra" && f.Type.Kind() == reflect.Map {
			extra = dst.Field(i)
			continue
		}
		key := wireKey(f.Name)
		if shape != nil {
			p := findGoName(shape.Properties, f.Name)
			if p == nil {
				return fmt.Errorf("%s: field %s.%s is not in the catalog", path, t.Name(), f.Name)
			}
			key = p.Key
		}
		if v, ok := take(obj, key); ok {
			if err := d.assign(dst.Field(i), v, path+"."+key); err != nil {
				return err
			}
		}
	}
	if len(obj) == 0 {
		return nil
	}
	if !extra.IsValid() {
		return fmt.Errorf("%s: %s have no field in %s", path, keys(obj), typeName(t))
	}
	return d.assign(extra, obj, path)
}

func findGoName(ps []catalog.Property, goName string) *catalog.Property {
	for i := range ps {
		if ps[i].GoName == goName {
			return &ps[i]
		}
	}
	return nil
}

// wireKey is the JSON key of a Go field name in lower camel case: UserID is
// userId, IP is ip, URL is url, AdvertisingID is advertisingId, WiFi is
// wifi.
func wireKey(name string) string {
	if name == "WiFi" {
		return "wifi"
	}
	r := []rune(name)
	n := 0 // the length of the leading run of capitals
	for n < len(r) && unicode.IsUpper(r[n]) {
		n++
	}
	if n > 1 && n < len(r) {
		n-- // the last capital starts the next word: URLPath is urlPath
	}
	for i := range n {
		r[i] = unicode.ToLower(r[i])
	}
	s := string(r)
	if strings.HasSuffix(s, "ID") {
		s = strings.TrimSuffix(s, "ID") + "Id"
	}
	return s
}

func take(obj map[string]any, key string) (any, bool) {
	v, ok := obj[key]
	if ok {
		delete(obj, key)
	}
	return v, ok
}

func object(v any, path string) (map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, mismatch(path, "an object", v)
	}
	return obj, nil
}

// clone copies the top level of obj, so that keys can be taken from it.
func clone(obj map[string]any) map[string]any {
	if obj == nil {
		return nil
	}
	c := make(map[string]any, len(obj))
	for k, v := range obj {
		c[k] = v
	}
	return c
}

// normalize turns the json.Numbers in v into float64, as encoding/json
// decodes numbers into an interface.
func normalize(v any) any {
	switch v := v.(type) {
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return v.String()
		}
		return f
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = normalize(e)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = normalize(e)
		}
		return s
	}
	return v
}

func integer(n json.Number) (int64, error) {
	if i, err := n.Int64(); err == nil {
		return i, nil
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, errors.New("not an integer")
	}
	return int64(f), nil
}

func mismatch(path, want string, v any) error {
	var got string
	switch v.(type) {
	case string:
		got = "a string"
	case json.Number:
		got = "a number"
	case bool:
		got = "a boolean"
	case map[string]any:
		got = "an object"
	case []any:
		got = "an array"
	default:
		got = fmt.Sprintf("%T", v)
	}
	return fmt.Errorf("%s: want %s, got %s", path, want, got)
}

func keys(obj map[string]any) string {
	ks := make([]string, 0, len(obj))
	for k := range obj {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return fmt.Sprintf("%q", ks)
}
