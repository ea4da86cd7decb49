package analytics

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// Envelope is one view of any message, as a Transform sees it: the fields
// of the core calls, filled for the call's Type. A typed helper appears as
// the track call it is sent as, with its fields where they go on the wire:
// an OrderCompleted's total is Properties["total"], its products
// Properties["products"], a DeletePerson's email Properties["email"]
// (and, without a UserID, UserID too), an ApplicationOpened's device token
// Context.Device.Token.
//
// The Envelope and everything in it belong to the transforms while Enqueue
// runs them: its maps, slices and Context are copies, so a transform may
// change, add or delete anything in place without touching the caller's
// message (values of other types, such as a struct or a json.Marshaler in
// a map, are shared with the caller: replace them rather than change
// them). A transform must not keep the Envelope after it returns.
//
// Values in Traits, Properties and Context.Traits are the caller's, copied.
// The fields of a typed helper appear as: string for text and documented
// values (DeviceTypeIOS is "ios"), float64 for numbers, int for integers,
// bool, time.Time for dates, []string, map[string]any for objects and for
// a shape such as a Product (under its wire keys, its Extra beside them),
// and []any of those maps for a list of shapes.
//
// After the last transform the message is built again from the Envelope
// and validated and encoded as Enqueue does any message (see
// WithTransform): a typed helper whose Type and Event are unchanged is
// rebuilt as that helper, each field taken from its place on the wire,
// and is checked by its own rules; any other Envelope is the core call of
// its Type.
type Envelope struct {
	// Type is the call: "identify", "track", "page", "screen", "group" or
	// "alias".
	Type string
	// Event is a track call's event name.
	Event string
	// Name is a page's or a screen's name.
	Name string
	// Category is a page's category.
	Category string

	UserID      string
	AnonymousID string
	// GroupID is a group call's object.
	GroupID string
	// ObjectID is the object an identify relates the person to
	// (Identify.ObjectID).
	ObjectID string
	// ObjectTypeID is the object type of a group, or of the object of an
	// identify.
	ObjectTypeID string
	// PreviousID is the identifier an alias merges into UserID.
	PreviousID string

	// Traits are an identify's or a group's traits; never nil for those.
	Traits Traits
	// RelationshipAttributes describe the relationship of an identify or
	// a group (sent as traits.relationshipAttributes).
	RelationshipAttributes map[string]any
	// Properties are a track's, a page's or a screen's properties; never
	// nil for those.
	Properties Properties

	// Context is the message's context, with the client's default context
	// (WithDefaultContext) and the request's (Middleware) merged in, or
	// nil. context.library is added at encoding, whatever it holds.
	Context      *Context
	Integrations Integrations
	// Timestamp is the message's time: the Enqueue call's when the
	// message had none.
	Timestamp time.Time
	// MessageID is the message's id: a new one when the message had none.
	MessageID string

	// rebuild builds the typed helper the Envelope was made from, with
	// the event helperEvent; nil for a core call.
	rebuild     func(*Envelope) Message
	helperEvent string
}

// message builds the message the Envelope now describes, for Enqueue to
// validate and encode: the typed helper it came from while its Type and
// Event are the helper's, or else the core call of its Type. A field the
// call does not send, set by a transform, is a *ValidationError, rather
// than a value silently left out.
func (env *Envelope) message() (Message, error) {
	typ := env.Type
	helper := env.rebuild != nil && typ == "track" && env.Event == env.helperEvent
	var set [8]string // the set fields the call does not send, by wire name
	n := 0
	unsent := func(name string, isSet bool) {
		if isSet && n < len(set) {
			set[n] = name
			n++
		}
	}
	switch typ {
	case "identify", "group":
		unsent("event", env.Event != "")
		unsent("name", env.Name != "")
		unsent("category", env.Category != "")
		unsent("previousId", env.PreviousID != "")
		unsent("properties", len(env.Properties) > 0)
		if typ == "group" {
			unsent("traits.objectId", env.ObjectID != "")
		} else {
			unsent("groupId", env.GroupID != "")
		}
	case "track", "page", "screen":
		unsent("event", typ != "track" && env.Event != "")
		unsent("name", typ == "track" && env.Name != "")
		unsent("category", typ != "page" && env.Category != "")
		unsent("groupId", env.GroupID != "")
		unsent("objectTypeId", env.ObjectTypeID != "")
		unsent("traits.objectId", env.ObjectID != "")
		unsent("previousId", env.PreviousID != "")
		unsent("traits", len(env.Traits) > 0)
		unsent("traits.relationshipAttributes", len(env.RelationshipAttributes) > 0)
	case "alias":
		unsent("event", env.Event != "")
		unsent("name", env.Name != "")
		unsent("category", env.Category != "")
		unsent("anonymousId", env.AnonymousID != "")
		unsent("groupId", env.GroupID != "")
		unsent("objectTypeId", env.ObjectTypeID != "")
		unsent("traits.objectId", env.ObjectID != "")
		unsent("traits", len(env.Traits) > 0)
		unsent("traits.relationshipAttributes", len(env.RelationshipAttributes) > 0)
		unsent("properties", len(env.Properties) > 0)
	default:
		return nil, &ValidationError{Type: typ, Event: env.Event, Field: "type",
			Reason: "a transform set the type " + strconv.Quote(typ) + ", which is not identify, track, page, screen, group or alias"}
	}
	if n > 0 {
		return nil, &ValidationError{Type: typ, Event: env.Event, Field: set[0],
			Reason: "a transform set it, but a " + typ + " call does not send it"}
	}
	if helper {
		return env.rebuild(env), nil
	}
	switch typ {
	case "identify":
		return Identify{UserID: env.UserID, AnonymousID: env.AnonymousID, Traits: env.Traits,
			ObjectID: env.ObjectID, ObjectTypeID: env.ObjectTypeID, RelationshipAttributes: env.RelationshipAttributes,
			Timestamp: env.Timestamp, Context: env.Context, Integrations: env.Integrations, MessageID: env.MessageID}, nil
	case "track":
		return Track{UserID: env.UserID, AnonymousID: env.AnonymousID, Event: env.Event, Properties: env.Properties,
			Timestamp: env.Timestamp, Context: env.Context, Integrations: env.Integrations, MessageID: env.MessageID}, nil
	case "page":
		return Page{UserID: env.UserID, AnonymousID: env.AnonymousID, Name: env.Name, Category: env.Category, Properties: env.Properties,
			Timestamp: env.Timestamp, Context: env.Context, Integrations: env.Integrations, MessageID: env.MessageID}, nil
	case "screen":
		return Screen{UserID: env.UserID, AnonymousID: env.AnonymousID, Name: env.Name, Properties: env.Properties,
			Timestamp: env.Timestamp, Context: env.Context, Integrations: env.Integrations, MessageID: env.MessageID}, nil
	case "group":
		return Group{UserID: env.UserID, AnonymousID: env.AnonymousID, GroupID: env.GroupID, ObjectTypeID: env.ObjectTypeID,
			Traits: env.Traits, RelationshipAttributes: env.RelationshipAttributes,
			Timestamp: env.Timestamp, Context: env.Context, Integrations: env.Integrations, MessageID: env.MessageID}, nil
	}
	return Alias{UserID: env.UserID, PreviousID: env.PreviousID,
		Timestamp: env.Timestamp, Context: env.Context, Integrations: env.Integrations, MessageID: env.MessageID}, nil
}

// --- the core calls (the typed helpers' are generated, envelope_helpers.go) ---
//
// Everything taken from a message is copied (own, cloneMap, cloneContext,
// ownTime), for the Envelope's rule that a transform may change what it
// holds, and for escape analysis: a string or a map of the message stored
// in the heap-allocated Envelope as it is would make every message passed
// to Enqueue escape to the heap, transforms or not (see encodeKnown). The
// copies go through strings.Clone and map lookups, which tie no flow back
// to the message.

func (m Identify) envelope(env *Envelope) {
	env.Type = "identify"
	env.UserID, env.AnonymousID = own(m.UserID), own(m.AnonymousID)
	env.Traits = cloneMap(m.Traits, 0)
	env.ObjectID, env.ObjectTypeID = own(m.ObjectID), own(m.ObjectTypeID)
	env.RelationshipAttributes = cloneNonNil(m.RelationshipAttributes)
	env.common(m.Timestamp, m.Context, m.Integrations, m.MessageID)
}

func (m Track) envelope(env *Envelope) {
	env.Type = "track"
	env.UserID, env.AnonymousID, env.Event = own(m.UserID), own(m.AnonymousID), own(m.Event)
	env.Properties = cloneMap(m.Properties, 0)
	env.common(m.Timestamp, m.Context, m.Integrations, m.MessageID)
}

func (m Page) envelope(env *Envelope) {
	env.Type = "page"
	env.UserID, env.AnonymousID = own(m.UserID), own(m.AnonymousID)
	env.Name, env.Category = own(m.Name), own(m.Category)
	env.Properties = cloneMap(m.Properties, 0)
	env.common(m.Timestamp, m.Context, m.Integrations, m.MessageID)
}

func (m Screen) envelope(env *Envelope) {
	env.Type = "screen"
	env.UserID, env.AnonymousID, env.Name = own(m.UserID), own(m.AnonymousID), own(m.Name)
	env.Properties = cloneMap(m.Properties, 0)
	env.common(m.Timestamp, m.Context, m.Integrations, m.MessageID)
}

func (m Group) envelope(env *Envelope) {
	env.Type = "group"
	env.UserID, env.AnonymousID = own(m.UserID), own(m.AnonymousID)
	env.GroupID, env.ObjectTypeID = own(m.GroupID), own(m.ObjectTypeID)
	env.Traits = cloneMap(m.Traits, 0)
	env.RelationshipAttributes = cloneNonNil(m.RelationshipAttributes)
	env.common(m.Timestamp, m.Context, m.Integrations, m.MessageID)
}

func (m Alias) envelope(env *Envelope) {
	env.Type = "alias"
	env.UserID, env.PreviousID = own(m.UserID), own(m.PreviousID)
	env.common(m.Timestamp, m.Context, m.Integrations, m.MessageID)
}

// common fills the fields every message has.
func (env *Envelope) common(ts time.Time, ctx *Context, integrations Integrations, messageID string) {
	env.Timestamp = ownTime(ts)
	env.Context = cloneContext(ctx)
	env.Integrations = cloneNonNil(integrations)
	env.MessageID = own(messageID)
}

// helper marks the Envelope as made from the typed helper whose event is
// event, rebuilt by rebuild, and fills its identifiers as the helper sends
// them: blank ones are not sent (encoder.id).
func (env *Envelope) helper(event string, rebuild func(*Envelope) Message, userID, anonymousID string) {
	env.Type, env.Event, env.helperEvent, env.rebuild = "track", event, event, rebuild
	if !blank(userID) {
		env.UserID = own(userID)
	}
	if !blank(anonymousID) {
		env.AnonymousID = own(anonymousID)
	}
}

// contextDevice returns the Envelope's Context.Device, making both if
// needed, for a typed helper's fields sent there.
func (env *Envelope) contextDevice() *DeviceInfo {
	if env.Context == nil {
		env.Context = &Context{}
	}
	if env.Context.Device == nil {
		env.Context.Device = &DeviceInfo{}
	}
	return env.Context.Device
}

// contextApp is contextDevice for Context.App.
func (env *Envelope) contextApp() *AppInfo {
	if env.Context == nil {
		env.Context = &Context{}
	}
	if env.Context.App == nil {
		env.Context.App = &AppInfo{}
	}
	return env.Context.App
}

// --- copies ---

// own returns a copy of s that shares no memory with it.
func own(s string) string {
	if s == "" {
		return ""
	}
	return strings.Clone(s)
}

// ownTime returns t as the same instant in UTC, rebuilt from numbers so
// that it shares nothing with t (not even its *time.Location, for the
// reason given above).
func ownTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.Unix(t.Unix(), int64(t.Nanosecond())).UTC()
}

// cloneMap returns a deep copy of m (see cloneValue) with room for extra
// more keys; an empty map, never nil.
func cloneMap[M ~map[string]any](m M, extra int) M {
	out := make(M, len(m)+extra)
	for k := range m {
		out[k] = cloneValue(m[k]) // a lookup, not the range value: see the note above
	}
	return out
}

// cloneNonNil is cloneMap, but nil for nil.
func cloneNonNil[M ~map[string]any](m M) M {
	if m == nil {
		return nil
	}
	return cloneMap(m, 0)
}

// cloneValue returns a deep copy of the maps and slices of common types in
// v; other values are returned as they are.
func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if x == nil {
			return x
		}
		return cloneMap(x, 0)
	case Properties:
		return cloneNonNil(x)
	case Traits:
		return cloneNonNil(x)
	case Integrations:
		return cloneNonNil(x)
	case []any:
		if x == nil {
			return x
		}
		out := make([]any, len(x))
		for i := range x {
			out[i] = cloneValue(x[i])
		}
		return out
	case []map[string]any:
		if x == nil {
			return x
		}
		out := make([]map[string]any, len(x))
		for i := range x {
			out[i] = cloneNonNil(x[i])
		}
		return out
	case []string:
		return cloneStrings(x)
	case []int:
		if x == nil {
			return x
		}
		return append([]int{}, x...)
	case []float64:
		if x == nil {
			return x
		}
		return append([]float64{}, x...)
	}
	return v
}

// cloneStrings returns a copy of s sharing no memory with it; nil for nil.
func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	out := make([]string, len(s))
	for i := range s {
		out[i] = own(s[i])
	}
	return out
}

// ownBool and ownFloat return a new pointer to a copy of *p, or nil.
func ownBool(p *bool) *bool {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func ownFloat(p *float64) *float64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// cloneContext returns a deep copy of c, or nil.
func cloneContext(c *Context) *Context {
	if c == nil {
		return nil
	}
	out := &Context{
		Active: ownBool(c.Active), IP: own(c.IP), Locale: own(c.Locale), UserAgent: own(c.UserAgent),
		Channel: Channel(own(string(c.Channel))), Timezone: own(c.Timezone), GroupID: own(c.GroupID),
		Traits: cloneNonNil(c.Traits), Extra: cloneNonNil(c.Extra),
	}
	if p := c.Campaign; p != nil {
		out.Campaign = &CampaignInfo{Name: own(p.Name), Source: own(p.Source), Medium: own(p.Medium),
			Term: own(p.Term), Content: own(p.Content), Extra: cloneNonNil(p.Extra)}
	}
	if p := c.Page; p != nil {
		out.Page = &PageInfo{Name: own(p.Name), Path: own(p.Path), Referrer: own(p.Referrer), Search: own(p.Search),
			Title: own(p.Title), URL: own(p.URL), Keywords: cloneStrings(p.Keywords)}
	}
	if p := c.App; p != nil {
		out.App = &AppInfo{Name: own(p.Name), Version: own(p.Version), Build: own(p.Build), Namespace: own(p.Namespace)}
	}
	if p := c.Device; p != nil {
		out.Device = &DeviceInfo{ID: own(p.ID), Manufacturer: own(p.Manufacturer), Model: own(p.Model), Name: own(p.Name),
			Type: own(p.Type), Token: own(p.Token), AdvertisingID: own(p.AdvertisingID), AdTrackingEnabled: ownBool(p.AdTrackingEnabled)}
	}
	if p := c.OS; p != nil {
		out.OS = &OSInfo{Name: own(p.Name), Version: own(p.Version)}
	}
	if p := c.Network; p != nil {
		out.Network = &NetworkInfo{Bluetooth: ownBool(p.Bluetooth), Cellular: ownBool(p.Cellular), WiFi: ownBool(p.WiFi), Carrier: own(p.Carrier)}
	}
	if p := c.Location; p != nil {
		out.Location = &LocationInfo{City: own(p.City), Country: own(p.Country), Region: own(p.Region),
			Latitude: ownFloat(p.Latitude), Longitude: ownFloat(p.Longitude), Speed: ownFloat(p.Speed)}
	}
	if p := c.Screen; p != nil {
		out.Screen = &ScreenInfo{Width: p.Width, Height: p.Height, Density: p.Density}
	}
	if p := c.Referrer; p != nil {
		out.Referrer = &ReferrerInfo{Type: own(p.Type), Name: own(p.Name), URL: own(p.URL), Link: own(p.Link), ID: own(p.ID)}
	}
	return out
}

// --- reading a typed helper back (envelope_helpers.go) ---
//
// Each read function reads the value at key of m, one of the Envelope's
// maps, into a field of a typed helper, and reports whether it did: when
// the value has the field's type (a number of any Go type for a *float64
// field, and so on) and is one the field would send. The keys whose
// fields are then set are left out of the helper's Extra (extraWithout,
// with the helper's own rule of which keys a set field writes), and the
// others are sent as they are, as Extra keys are. m is never changed: a
// transform may have put a map of its own in the Envelope.

// readString reads a non-empty string.
func readString(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// readEnum reads a string, or a value of the enum type E.
func readEnum[E ~string](m map[string]any, key string) E {
	switch x := m[key].(type) {
	case string:
		return E(x)
	case E:
		return x
	}
	return ""
}

// readFloat reads a number of any Go numeric type, or a json.Number.
func readFloat(m map[string]any, key string) *float64 {
	var f float64
	switch x := m[key].(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int8:
		f = float64(x)
	case int16:
		f = float64(x)
	case int32:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint:
		f = float64(x)
	case uint8:
		f = float64(x)
	case uint16:
		f = float64(x)
	case uint32:
		f = float64(x)
	case uint64:
		f = float64(x)
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return nil
		}
	default:
		return nil
	}
	return &f
}

// readInt reads a whole number that fits an int: an integer of any Go
// type, or a float64 or json.Number without a fraction.
func readInt(m map[string]any, key string) *int {
	n, ok := wholeNumber(m[key])
	if !ok {
		return nil
	}
	return &n
}

// wholeNumber returns v as an int if it is a whole number that fits one.
func wholeNumber(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int8:
		return int(x), true
	case int16:
		return int(x), true
	case int32:
		return int(x), true
	case int64:
		if x < math.MinInt || x > math.MaxInt {
			return 0, false
		}
		return int(x), true
	case uint:
		if x > math.MaxInt {
			return 0, false
		}
		return int(x), true
	case uint8:
		return int(x), true
	case uint16:
		return int(x), true
	case uint32:
		return int(x), true
	case uint64:
		if x > math.MaxInt {
			return 0, false
		}
		return int(x), true
	case float64:
		if x != math.Trunc(x) || x < math.MinInt || x >= math.MaxInt {
			return 0, false
		}
		return int(x), true
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 0)
		return int(n), err == nil
	}
	return 0, false
}

// readBool reads a bool.
func readBool(m map[string]any, key string) *bool {
	b, ok := m[key].(bool)
	if !ok {
		return nil
	}
	return &b
}

// readTime reads a time.Time.
func readTime(m map[string]any, key string) time.Time {
	t, _ := m[key].(time.Time)
	return t
}

// readObject reads a map that is not nil (a map[string]any, Properties or
// Traits).
func readObject(m map[string]any, key string) map[string]any {
	o, _ := object(m[key])
	return o
}

// object returns v as a map[string]any if it is a map of one of the kinds
// a transform may put in an Envelope, not nil.
func object(v any) (map[string]any, bool) {
	var o map[string]any
	switch x := v.(type) {
	case map[string]any:
		o = x
	case Properties:
		o = x
	case Traits:
		o = x
	}
	return o, o != nil
}

// readStrings reads a []string, or a []any of strings, not nil.
func readStrings(m map[string]any, key string) []string {
	var out []string
	switch x := m[key].(type) {
	case []string:
		out = x
	case []any:
		if x == nil {
			return nil
		}
		out = make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil
			}
			out[i] = s
		}
	}
	return out
}

// readShape reads a shape (such as a Device): a value of its Go type, or
// a map read back with from.
func readShape[T any](m map[string]any, key string, from func(map[string]any) T) (T, bool) {
	switch x := m[key].(type) {
	case T:
		return x, true
	case *T:
		if x != nil {
			return *x, true
		}
	}
	if o, ok := object(m[key]); ok {
		return from(o), true
	}
	var zero T
	return zero, false
}

// readShapes reads a list of shapes (such as Products): a slice of their
// Go type, or a []any or []map[string]any of maps, each read back with
// from; nil if an element is not a map.
func readShapes[T any](m map[string]any, key string, from func(map[string]any) T) []T {
	var out []T
	switch x := m[key].(type) {
	case []T:
		out = x
	case []map[string]any:
		if x == nil {
			return nil
		}
		out = make([]T, len(x))
		for i, o := range x {
			out[i] = from(o)
		}
	case []any:
		if x == nil {
			return nil
		}
		out = make([]T, len(x))
		for i, e := range x {
			o, ok := object(e)
			if !ok {
				return nil
			}
			out[i] = from(o)
		}
	}
	return out
}

// extraWithout returns the entries of m whose keys written does not
// claim, as a helper's Extra: nil when there are none, a new map
// otherwise. written is the helper's own rule (the one its encoding skips
// Extra keys with): a key is claimed when the field that writes it is set.
// A nil written claims none.
func extraWithout(m map[string]any, written func(string) bool) Properties {
	n := 0
	for k := range m {
		if written == nil || !written(k) {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make(Properties, n)
	for k, v := range m {
		if written == nil || !written(k) {
			out[k] = v
		}
	}
	return out
}
