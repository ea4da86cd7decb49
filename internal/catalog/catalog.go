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
)

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
	// Notes records seed contradictions and the choice made for each.
	Notes []string `json:"notes"`
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
	// (for example "Video playback started").
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
	// EmailIdentity reports whether the seeds let the person be named by
	// email (sent as properties.email) instead of by userId.
	EmailIdentity bool `json:"emailIdentity,omitempty"`
	// UserIDRequired reports whether the seeds mark userId required. When
	// EmailIdentity is also set, an email satisfies the requirement.
	UserIDRequired bool `json:"userIdRequired,omitempty"`
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
	// empty), InTop or InPropertiesAndContext. Shape properties leave it
	// empty.
	In string `json:"in,omitempty"`
}

// Placement returns p.In, or InProperties when p.In is empty.
func (p Property) Placement() string {
	if p.In == "" {
		return InProperties
	}
	return p.In
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
	for i := range c.Events {
		if c.Events[i].Name == name {
			return &c.Events[i]
		}
	}
	return nil
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
	for i := range ps {
		if ps[i].Key == key {
			return &ps[i]
		}
	}
	return nil
}

// Validate checks the catalog: unique event names and Go names, known
// families and groups, known property types, shapes that exist, non-empty
// enums, and defaults and bounds that fit their types. It reports every
// problem found, joined.
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

	for i, n := range c.Notes {
		if strings.TrimSpace(n) == "" {
			bad("note %d is empty", i)
		}
	}
	return errors.Join(errs...)
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
		case "", InProperties, InPropertiesAndContext, InTop:
			if inShape && p.In != "" {
				bad("%s: shape properties take no placement, got %q", pw, p.In)
			}
		default:
			bad("%s: unknown placement %q", pw, p.In)
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
