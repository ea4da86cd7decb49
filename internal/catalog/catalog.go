// Package catalog holds the event catalog extracted from the specification
// seeds (the Customer.io actions and the semantic events: ecommerce, A/B
// test, email, live chat, mobile lifecycle and video) as data, and loads and
// checks it.
//
// The catalog lives in catalog.json beside this file and is embedded in the
// package. A generator turns it into one typed helper struct per event; this
// package only describes the events, it sends nothing.
package catalog

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"go/token"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed catalog.json
var catalogJSON []byte

// JSON returns a copy of the embedded catalog.json.
func JSON() []byte { return bytes.Clone(catalogJSON) }

// Families lists, in catalog order, the values allowed in [Event.Family].
var Families = []string{"customerio", "ecommerce", "ab", "email", "livechat", "lifecycle", "video"}

// Groups lists, per family, the values allowed in [Event.Group]. A family
// without an entry takes no group.
var Groups = map[string][]string{
	"video": {"playback", "content", "ad"},
}

// Scalar property types. A [Property.Type] is one of these, or the name of a
// shape in [Catalog.Shapes], or either of those followed by "[]" where
// noted.
const (
	TypeString   = "string"   // JSON string
	TypeNumber   = "number"   // JSON number, a float
	TypeInteger  = "integer"  // JSON number without a fraction
	TypeBoolean  = "boolean"  // JSON true or false
	TypeDateTime = "datetime" // ISO-8601 date-time string
	TypeObject   = "object"   // free-form JSON object
	TypeAny      = "any"      // any JSON value
)

// ArrayTypes lists the scalar array types allowed besides arrays of shapes.
var ArrayTypes = []string{TypeString + "[]", TypeInteger + "[]"}

// Placement of a property on the wire, the values of [Property.In].
const (
	// InProperties puts the key in the message's properties object. It is
	// the default when [Property.In] is empty.
	InProperties = "properties"
	// InTop puts the key at the top level of the message.
	InTop = "top"
	// InPropertiesAndContext puts the key both in properties and in
	// context; the seeds disagree about where Customer.io reads a device,
	// so it has to be sent in both.
	InPropertiesAndContext = "properties+context"
	// InContext puts the value only in context, at the path the key
	// names inside it (such as "device.type" for context.device.type).
	InContext = "context"
)

// CallTypes lists the wire types of the core calls, the values allowed in
// [Trigger.Type].
var CallTypes = []string{"identify", "track", "page", "screen", "group", "alias"}

// ReservedGoNames are the Go field names every typed helper has besides the
// event's own properties (see DESIGN.md, "The public contract"); a
// property's GoName must not be one of them.
var ReservedGoNames = []string{"UserID", "AnonymousID", "Email", "Timestamp", "Context", "Integrations", "MessageID", "Extra"}

// Catalog is the whole catalog: the shared object shapes, every event, and
// notes on how contradictions between the seeds were resolved.
type Catalog struct {
	// Shapes maps a shape name (a Go type name such as "Product") to the
	// shape. Properties refer to shapes by name in their Type.
	Shapes map[string]Shape `json:"shapes"`
	// Events lists every event, grouped by family.
	Events []Event `json:"events"`
	// Enums names the Go types of enums: a property whose Enum lists the
	// values of one of them has that type; any other enum gets a type
	// named after its event and property.
	Enums []Enum `json:"enums"`
	// ContextFields are the paths inside context where a property may be
	// sent (a property in context, or one with a context path), with the
	// field of package analytics' Context that holds each.
	ContextFields []ContextField `json:"contextFields"`
	// Formats are the formats a string property may be checked for
	// ([Property.Format]), by name.
	Formats map[string]Format `json:"formats"`
	// Actions lists the actions of Customer.io's Journeys destination:
	// what triggers each and where it reads its fields.
	Actions []Action `json:"actions"`
	// Notes records seed contradictions and the choice made for each.
	Notes []string `json:"notes"`
}

// Enum is the Go type of an enum: a string type with a constant per value.
type Enum struct {
	// GoName is the Go type name, such as "DeviceType".
	GoName string `json:"goName"`
	// Doc is the type's doc comment, a sentence that starts with GoName.
	Doc string `json:"doc"`
	// Values are the documented values, in the order of the properties'
	// Enum lists.
	Values []string `json:"values"`
}

// ContextField is a path inside context that typed helpers write, and the
// field of package analytics' Context that holds its value: the field
// Field of the struct in Context's field Struct, of type StructType.
type ContextField struct {
	// Path is the dotted path inside context, such as "device.token".
	Path string `json:"path"`
	// Struct is the field of Context that holds the value's struct, such
	// as "Device", and StructType its type without the pointer, such as
	// "DeviceInfo".
	Struct     string `json:"goStruct"`
	StructType string `json:"goStructType"`
	// Field is the string field of that struct, such as "Token".
	Field string `json:"goField"`
}

// Format is a check of a string property's value, beyond its type.
type Format struct {
	// Check is the function of package analytics that checks the value,
	// with the signature func(e *encoder, field, v string) error.
	Check string `json:"goCheck"`
	// ExtraCheck, if set, is the function of package analytics that
	// checks the same key given in a helper's Extra, and that it agrees
	// with the field: func(e *encoder, field, v, extraField string, extra
	// map[string]any) (string, error).
	ExtraCheck string `json:"goExtraCheck,omitempty"`
	// Doc is the sentence the field's doc comment gets.
	Doc string `json:"doc"`
}

// Action is one action of Customer.io's Journeys destination (the
// Customer.io destination of segmentio/action-destinations, one folder per
// action): the call that triggers it and the paths it reads.
type Action struct {
	// Name is the action's title, such as "Delete Person".
	Name string `json:"name"`
	// Key is the action's folder name, such as "deletePerson".
	Key string `json:"key"`
	// Doc says in a sentence what the action does.
	Doc string `json:"doc"`
	// Trigger is the call that triggers the action.
	Trigger Trigger `json:"trigger"`
	// Helpers are the Go names of the typed helpers whose event triggers
	// the action; empty for the actions triggered by a core call.
	Helpers []string `json:"helpers,omitempty"`
	// Fields are the fields of the action that this library writes or
	// checks, with where the destination reads each. The destination's
	// other fields (the attributes it takes from traits or properties as a
	// whole, created_at, its batching settings) are left out, and the
	// order is this catalog's.
	Fields []ActionField `json:"fields"`
}

// Trigger is the call that triggers an action (its defaultSubscription).
type Trigger struct {
	// Type is the call type, one of [CallTypes].
	Type string `json:"type"`
	// Events, for a track trigger, are the event names that trigger the
	// action; empty means any track call that triggers no other action.
	Events []string `json:"events,omitempty"`
}

// ActionField is one field of an action and where its value is read.
type ActionField struct {
	// Name is the field's name in the destination, such as "person_id".
	Name string `json:"name"`
	// Paths are the message paths the value is read from, in order: the
	// first that holds a value is used (the destination's @if/exists).
	// A path is dotted from the top of the message, such as
	// "context.device.token".
	Paths []string `json:"paths"`
	// Required reports whether the action cannot run without the value.
	Required bool `json:"required,omitempty"`
}

// Triggers reports whether a call of type typ with the event name event
// (empty for a call that is not a track) triggers the action through one of
// its named events. An action triggered by a call type alone (Events empty)
// reports whether typ matches.
func (a *Action) Triggers(typ, event string) bool {
	if typ != a.Trigger.Type {
		return false
	}
	return len(a.Trigger.Events) == 0 || slices.Contains(a.Trigger.Events, event)
}

// ActionsFor returns the actions a semantic event triggers: those whose
// trigger names the event (the actions triggered by any call of a type are
// left out).
func (c *Catalog) ActionsFor(typ, event string) []*Action {
	var out []*Action
	for i := range c.Actions {
		a := &c.Actions[i]
		if len(a.Trigger.Events) > 0 && a.Triggers(typ, event) {
			out = append(out, a)
		}
	}
	return out
}

// Action returns the action with the given key, or nil.
func (c *Catalog) Action(key string) *Action {
	return find(c.Actions, func(a *Action) bool { return a.Key == key })
}

// Shape is a named JSON object type used by event properties, such as one
// product in a products array or a device.
type Shape struct {
	// Doc is a one-line description for the Go doc comment.
	Doc string `json:"doc"`
	// Additional reports whether the seeds allow keys beyond Properties in
	// this object.
	Additional bool `json:"additional,omitempty"`
	// Properties are the object's documented keys, in seed order.
	Properties []Property `json:"properties"`
}

// Event is one event: a track call with a fixed event name and typed
// properties.
type Event struct {
	// Name is the event name sent on the wire, exactly as the seed spells it
	// (for example "Video Playback Started").
	Name string `json:"name"`
	// GoName is the Go type name of the helper, such as "OrderCompleted" or
	// "DeletePerson".
	GoName string `json:"goName"`
	// Family is one of [Families].
	Family string `json:"family"`
	// Group is an optional sub-family, one of [Groups] for the family.
	Group string `json:"group,omitempty"`
	// Doc is one or two sentences for the Go doc comment.
	Doc string `json:"doc"`
	// EmailIdentity reports whether the person may be named by email
	// instead of by userId: without a userId the email is sent as the
	// userId, which Customer.io looks up as an email address, and also as
	// properties.email.
	EmailIdentity bool `json:"emailIdentity,omitempty"`
	// UserIDRequired reports whether the seeds mark userId required. When
	// EmailIdentity is also set, an email satisfies the requirement.
	UserIDRequired bool `json:"userIdRequired,omitempty"`
	// AnonymousIDRequired reports whether the event must carry an
	// anonymousId, because that is the only identifier Customer.io reads
	// from it.
	AnonymousIDRequired bool `json:"anonymousIdRequired,omitempty"`
	// Properties are the event's documented keys, in seed order.
	Properties []Property `json:"properties"`
}

// Property is one documented key of an event or a shape.
type Property struct {
	// Key is the wire key, exactly as the seed writes it.
	Key string `json:"key"`
	// GoName is the Go field name, following Go initialisms.
	GoName string `json:"goName"`
	// Type is a scalar type (TypeString and so on), one of [ArrayTypes],
	// a shape name, or a shape name followed by "[]".
	Type string `json:"type"`
	// Required reports whether the key must be present.
	Required bool `json:"required,omitempty"`
	// Enum, when not nil, lists the only documented values.
	Enum []string `json:"enum,omitempty"`
	// Min and Max, when not nil, bound a numeric value (inclusive).
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
	// Default is the value the receiver assumes when the key is missing,
	// written as a string; empty means none.
	Default string `json:"default,omitempty"`
	// Doc is a short description for the Go doc comment.
	Doc string `json:"doc"`
	// In is where the key goes on the wire: InProperties (the default when
	// empty), InTop, InPropertiesAndContext or InContext (then Key is the
	// path inside context). Shape properties leave it empty.
	In string `json:"in,omitempty"`
	// Context, when not empty, is a path inside context where the value
	// is also sent, such as "app.version", because Customer.io's Journeys
	// destination reads it there.
	Context string `json:"context,omitempty"`
	// Format, when not empty, names the [Catalog.Formats] entry the value
	// is checked against.
	Format string `json:"format,omitempty"`
}

// Placement returns p.In, or InProperties when p.In is empty.
func (p Property) Placement() string {
	if p.In == "" {
		return InProperties
	}
	return p.In
}

// ContextPath returns the path inside context where p is sent (its Key for
// a property InContext, else its Context), or "".
func (p Property) ContextPath() string {
	if p.Placement() == InContext {
		return p.Key
	}
	return p.Context
}

// Enum returns the named enum type whose values are values, or nil.
func (c *Catalog) Enum(values []string) *Enum {
	return find(c.Enums, func(e *Enum) bool { return slices.Equal(e.Values, values) })
}

// ContextField returns the context field at path, or nil.
func (c *Catalog) ContextField(path string) *ContextField {
	return find(c.ContextFields, func(f *ContextField) bool { return f.Path == path })
}

// IsArray reports whether p.Type is an array type.
func (p Property) IsArray() bool { return strings.HasSuffix(p.Type, "[]") }

// ElemType returns p.Type without a trailing "[]".
func (p Property) ElemType() string { return strings.TrimSuffix(p.Type, "[]") }

// Load decodes the embedded catalog strictly (unknown fields and trailing
// data are errors) and validates it.
func Load() (*Catalog, error) {
	return Parse(catalogJSON)
}

// Parse decodes a catalog from data with the same strictness as [Load] and
// validates it.
func Parse(data []byte) (*Catalog, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Catalog
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("catalog: decode: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("catalog: decode: trailing data after the catalog object")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Event returns the event with the given wire name, or nil.
func (c *Catalog) Event(name string) *Event {
	return find(c.Events, func(e *Event) bool { return e.Name == name })
}

// EventsIn returns the events of a family, in catalog order.
func (c *Catalog) EventsIn(family string) []Event {
	var out []Event
	for _, e := range c.Events {
		if e.Family == family {
			out = append(out, e)
		}
	}
	return out
}

// Property returns the property with the given wire key, or nil.
func (e *Event) Property(key string) *Property { return findProperty(e.Properties, key) }

// Property returns the property with the given wire key, or nil.
func (s *Shape) Property(key string) *Property { return findProperty(s.Properties, key) }

func findProperty(ps []Property, key string) *Property {
	return find(ps, func(p *Property) bool { return p.Key == key })
}

// find returns the first element of s that match reports, or nil.
func find[T any](s []T, match func(*T) bool) *T {
	for i := range s {
		if match(&s[i]) {
			return &s[i]
		}
	}
	return nil
}

// Validate checks the catalog: unique event names and Go names, known
// families and groups, known property types, shapes that exist, non-empty
// enums, defaults and bounds that fit their types, the tables of enum
// types, context fields and formats that properties refer to, and the
// actions. It reports every problem found, joined.
func (c *Catalog) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("catalog: "+format, args...))
	}

	if len(c.Events) == 0 {
		bad("no events")
	}

	shapeNames := make([]string, 0, len(c.Shapes))
	for name := range c.Shapes {
		shapeNames = append(shapeNames, name)
	}
	slices.Sort(shapeNames)
	for _, name := range shapeNames {
		s := c.Shapes[name]
		where := fmt.Sprintf("shape %q", name)
		if !isExportedIdent(name) {
			bad("%s: name is not an exported Go identifier", where)
		}
		if isScalarType(name) {
			bad("%s: name clashes with a scalar type", where)
		}
		if strings.TrimSpace(s.Doc) == "" {
			bad("%s: empty doc", where)
		}
		if len(s.Properties) == 0 {
			bad("%s: no properties", where)
		}
		c.checkProperties(where, s.Properties, true, bad)
	}

	names := map[string]bool{}
	goNames := map[string]bool{}
	for i, e := range c.Events {
		where := fmt.Sprintf("event %d %q", i, e.Name)
		switch {
		case e.Name == "":
			bad("%s: empty name", where)
		case e.Name != strings.TrimSpace(e.Name):
			bad("%s: name has leading or trailing space (the API trims it)", where)
		case names[e.Name]:
			bad("%s: duplicate name", where)
		}
		names[e.Name] = true
		switch {
		case !isExportedIdent(e.GoName):
			bad("%s: goName %q is not an exported Go identifier", where, e.GoName)
		case goNames[e.GoName]:
			bad("%s: duplicate goName %q", where, e.GoName)
		case c.hasShape(e.GoName):
			bad("%s: goName %q clashes with a shape", where, e.GoName)
		}
		goNames[e.GoName] = true
		if !slices.Contains(Families, e.Family) {
			bad("%s: unknown family %q", where, e.Family)
		}
		if groups := Groups[e.Family]; len(groups) > 0 {
			if !slices.Contains(groups, e.Group) {
				bad("%s: group %q is not one of %v", where, e.Group, groups)
			}
		} else if e.Group != "" {
			bad("%s: family %q takes no group, got %q", where, e.Family, e.Group)
		}
		if strings.TrimSpace(e.Doc) == "" {
			bad("%s: empty doc", where)
		}
		c.checkProperties(where, e.Properties, false, bad)
	}

	c.validateTables(bad)
	c.validateActions(bad)

	for i, n := range c.Notes {
		if strings.TrimSpace(n) == "" {
			bad("note %d is empty", i)
		}
	}
	return errors.Join(errs...)
}

// validateTables checks the enum types, the context fields and the
// formats: Go names that are exported identifiers, no repeats, paths, and
// that every property's enum type, context path and format is listed.
func (c *Catalog) validateTables(bad func(string, ...any)) {
	enums := map[string]bool{}
	names := map[string]bool{}
	for i, en := range c.Enums {
		where := fmt.Sprintf("enum %d %q", i, en.GoName)
		if !isExportedIdent(en.GoName) || names[en.GoName] {
			bad("%s: goName is not an exported Go identifier or is repeated", where)
		}
		names[en.GoName] = true
		if !strings.HasPrefix(en.Doc, en.GoName+" ") {
			bad("%s: doc must start with the type's name", where)
		}
		key := strings.Join(en.Values, "|")
		if len(en.Values) == 0 || enums[key] {
			bad("%s: no values, or the values of another enum", where)
		}
		enums[key] = true
	}
	paths := map[string]bool{}
	for i, cf := range c.ContextFields {
		where := fmt.Sprintf("context field %d %q", i, cf.Path)
		if !isPath(cf.Path) || paths[cf.Path] {
			bad("%s: not a dotted path, or repeated", where)
		}
		paths[cf.Path] = true
		for _, id := range []string{cf.Struct, cf.StructType, cf.Field} {
			if !isExportedIdent(id) {
				bad("%s: %q is not an exported Go identifier", where, id)
			}
		}
	}
	for name, f := range c.Formats {
		where := fmt.Sprintf("format %q", name)
		if !token.IsIdentifier(f.Check) || (f.ExtraCheck != "" && !token.IsIdentifier(f.ExtraCheck)) {
			bad("%s: a check is not a Go identifier", where)
		}
		if strings.TrimSpace(f.Doc) == "" {
			bad("%s: empty doc", where)
		}
	}
	check := func(where string, p Property) {
		if path := p.ContextPath(); path != "" && !paths[path] {
			bad("%s: property %q: context.%s is not one of the context fields", where, p.Key, path)
		}
		if _, ok := c.Formats[p.Format]; p.Format != "" && (!ok || p.ElemType() != TypeString || p.IsArray()) {
			bad("%s: property %q: format %q is unknown, or on a type that is not string", where, p.Key, p.Format)
		}
	}
	for name, s := range c.Shapes {
		for _, p := range s.Properties {
			check(fmt.Sprintf("shape %q", name), p)
		}
	}
	for _, e := range c.Events {
		for _, p := range e.Properties {
			check(fmt.Sprintf("event %q", e.Name), p)
		}
	}
}

// validateActions checks the actions: unique names and keys, known trigger
// types, trigger events and helpers that are catalog events of the same
// action, fields with paths, and every Customer.io event triggering exactly
// one action.
func (c *Catalog) validateActions(bad func(string, ...any)) {
	names := map[string]bool{}
	keys := map[string]bool{}
	triggered := map[string]int{}
	for i, a := range c.Actions {
		where := fmt.Sprintf("action %d %q", i, a.Name)
		if a.Name == "" || names[a.Name] {
			bad("%s: empty or repeated name", where)
		}
		names[a.Name] = true
		if !token.IsIdentifier(a.Key) || keys[a.Key] {
			bad("%s: key %q is not an identifier or is repeated", where, a.Key)
		}
		keys[a.Key] = true
		if strings.TrimSpace(a.Doc) == "" {
			bad("%s: empty doc", where)
		}
		if !slices.Contains(CallTypes, a.Trigger.Type) {
			bad("%s: unknown trigger type %q", where, a.Trigger.Type)
		}
		if len(a.Trigger.Events) > 0 && a.Trigger.Type != "track" {
			bad("%s: only a track trigger names events", where)
		}
		var goNames []string
		for _, name := range a.Trigger.Events {
			e := c.Event(name)
			if e == nil {
				bad("%s: trigger event %q is not in the catalog", where, name)
				continue
			}
			triggered[name]++
			goNames = append(goNames, e.GoName)
		}
		if !slices.Equal(goNames, a.Helpers) {
			bad("%s: helpers %v, want the Go names of its trigger events %v", where, a.Helpers, goNames)
		}
		if len(a.Fields) == 0 {
			bad("%s: no fields", where)
		}
		fields := map[string]bool{}
		for _, f := range a.Fields {
			if f.Name == "" || fields[f.Name] {
				bad("%s: field %q empty or repeated", where, f.Name)
			}
			fields[f.Name] = true
			if len(f.Paths) == 0 {
				bad("%s: field %q has no paths", where, f.Name)
			}
			for _, p := range f.Paths {
				if p != strings.TrimSpace(p) || slices.Contains(strings.Split(p, "."), "") {
					bad("%s: field %q: bad path %q", where, f.Name, p)
				}
			}
		}
	}
	for _, e := range c.EventsIn("customerio") {
		if triggered[e.Name] != 1 {
			bad("event %q triggers %d actions, want 1", e.Name, triggered[e.Name])
		}
	}
}

// isPath reports whether s is a dotted path of at least two names, such as
// "device.token".
func isPath(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.TrimFunc(p, func(r rune) bool {
			return r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
		}) != "" {
			return false
		}
	}
	return true
}

func (c *Catalog) checkProperties(where string, ps []Property, inShape bool, bad func(string, ...any)) {
	keys := map[string]bool{}
	goNames := map[string]bool{}
	for _, p := range ps {
		pw := fmt.Sprintf("%s: property %q", where, p.Key)
		switch {
		case p.Key == "":
			bad("%s: empty key", pw)
		case keys[p.Key]:
			bad("%s: duplicate key", pw)
		}
		keys[p.Key] = true
		switch {
		case !isExportedIdent(p.GoName):
			bad("%s: goName %q is not an exported Go identifier", pw, p.GoName)
		case goNames[p.GoName]:
			bad("%s: duplicate goName %q", pw, p.GoName)
		case !inShape && slices.Contains(ReservedGoNames, p.GoName):
			bad("%s: goName %q is reserved for a common helper field", pw, p.GoName)
		}
		goNames[p.GoName] = true
		if strings.TrimSpace(p.Doc) == "" {
			bad("%s: empty doc", pw)
		}

		elem := p.ElemType()
		switch {
		case isScalarType(p.Type), slices.Contains(ArrayTypes, p.Type):
		case isExportedIdent(elem):
			if !c.hasShape(elem) {
				bad("%s: type %q names no shape", pw, p.Type)
			}
		default:
			bad("%s: unknown type %q", pw, p.Type)
		}

		switch p.In {
		case "", InProperties, InPropertiesAndContext, InTop, InContext:
			if inShape && p.In != "" {
				bad("%s: shape properties take no placement, got %q", pw, p.In)
			}
		default:
			bad("%s: unknown placement %q", pw, p.In)
		}
		if inShape && p.Context != "" {
			bad("%s: shape properties take no context path, got %q", pw, p.Context)
		}
		if p.In == InContext && (!isPath(p.Key) || p.Context != "") {
			bad("%s: a property in context needs a dotted path as key and no context path", pw)
		}
		if p.Context != "" && !isPath(p.Context) {
			bad("%s: context path %q is not a dotted path", pw, p.Context)
		}

		if p.Enum != nil {
			if len(p.Enum) == 0 {
				bad("%s: empty enum", pw)
			}
			if elem != TypeString {
				bad("%s: enum on non-string type %q", pw, p.Type)
			}
			seen := map[string]bool{}
			for _, v := range p.Enum {
				if v == "" || seen[v] {
					bad("%s: enum value %q empty or repeated", pw, v)
				}
				seen[v] = true
			}
		}

		if p.Min != nil || p.Max != nil {
			if elem != TypeInteger && elem != TypeNumber {
				bad("%s: bounds on non-numeric type %q", pw, p.Type)
			}
			for _, b := range []*float64{p.Min, p.Max} {
				if b != nil && (math.IsNaN(*b) || math.IsInf(*b, 0) || (elem == TypeInteger && *b != math.Trunc(*b))) {
					bad("%s: bound %v does not fit type %q", pw, *b, p.Type)
				}
			}
			if p.Min != nil && p.Max != nil && *p.Min > *p.Max {
				bad("%s: min %v > max %v", pw, *p.Min, *p.Max)
			}
		}

		if p.Default != "" {
			if err := checkDefault(p); err != nil {
				bad("%s: default %q: %v", pw, p.Default, err)
			}
			if p.Required {
				bad("%s: required property has a default", pw)
			}
		}
	}
}

// checkDefault reports whether p.Default parses as p.Type and respects the
// property's enum and bounds.
func checkDefault(p Property) error {
	var num float64
	switch p.Type {
	case TypeString:
	case TypeDateTime:
		if _, err := time.Parse(time.RFC3339Nano, p.Default); err != nil {
			return err
		}
	case TypeInteger:
		n, err := strconv.ParseInt(p.Default, 10, 64)
		if err != nil {
			return err
		}
		num = float64(n)
	case TypeNumber:
		f, err := strconv.ParseFloat(p.Default, 64)
		if err != nil {
			return err
		}
		num = f
	case TypeBoolean:
		if _, err := strconv.ParseBool(p.Default); err != nil {
			return err
		}
	default:
		return fmt.Errorf("defaults are only supported on scalar types, not %q", p.Type)
	}
	if p.Enum != nil && !slices.Contains(p.Enum, p.Default) {
		return fmt.Errorf("not one of %v", p.Enum)
	}
	if (p.Min != nil && num < *p.Min) || (p.Max != nil && num > *p.Max) {
		return errors.New("out of bounds")
	}
	return nil
}

func (c *Catalog) hasShape(name string) bool {
	_, ok := c.Shapes[name]
	return ok
}

func isScalarType(t string) bool {
	switch t {
	case TypeString, TypeNumber, TypeInteger, TypeBoolean, TypeDateTime, TypeObject, TypeAny:
		return true
	}
	return false
}

func isExportedIdent(s string) bool {
	return token.IsIdentifier(s) && token.IsExported(s)
}
