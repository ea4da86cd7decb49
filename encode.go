package analytics

import (
	"bytes"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cdpkit/analytics-go/internal/jsonw"
)

// encoder turns one Message into JSON. Enqueue takes one from a pool per
// call; the message types write themselves into it with the methods below,
// without reflection except for values in user maps of unusual types.
type encoder struct {
	buf []byte

	now     time.Time     // the time of the Enqueue call
	newID   func() string // optional test hook (WithMessageIDs)
	library string        // `"library":{...}`, pre-encoded

	// Filled in while encoding, for the queue and for Result. Nothing
	// taken from the message is ever stored in the encoder, which is on
	// the heap (pooled): escape analysis would then make the message and
	// everything it points to escape on every Enqueue. So typ and event
	// hold constants only (a typed helper's event name); a Track's event
	// is read back from buf (see eventName).
	typ                  string
	event                string
	idStart, idEnd       int // the messageId's JSON string in buf, quotes excluded
	eventStart, eventEnd int // the event name's, for a track call

	// err is a problem found by a method that returns none (begin),
	// reported by encodeMessage.
	err error
	// rng draws message ids (see random).
	rng *mrand.ChaCha8

	// defaults is the context merged into the message's (the client's
	// WithDefaultContext and the request's), or nil. It is not the
	// message's, so the encoder may hold it.
	defaults *Context
}

var encoderPool = sync.Pool{New: func() any { return &encoder{buf: make([]byte, 0, 1024)} }}

func (e *encoder) reset() {
	if cap(e.buf) > 64<<10 {
		e.buf = make([]byte, 0, 1024)
	}
	e.buf = e.buf[:0]
	e.typ, e.event = "", ""
	e.idStart, e.idEnd = 0, 0
	e.eventStart, e.eventEnd = 0, 0
	e.defaults = nil
	e.err = nil
}

// eventName returns the event name of the message being encoded: a typed
// helper's constant, or a track call's name decoded from buf once begin
// has written it, a copy of the caller's string; "" if there is none (yet).
func (e *encoder) eventName() string {
	if e.event != "" || e.eventEnd <= e.eventStart {
		return e.event
	}
	raw := e.buf[e.eventStart:e.eventEnd]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	// AppendString writes only escapes that Go's string syntax shares.
	if s, err := strconv.Unquote(`"` + string(raw) + `"`); err == nil {
		return s
	}
	return string(raw)
}

// begin starts the message object: type (a constant), messageId and
// timestamp, and for a track call the event name.
func (e *encoder) begin(typ, event, messageID string, ts time.Time) {
	e.typ = typ
	e.buf = append(e.buf, `{"type":"`...)
	e.buf = append(e.buf, typ...)
	e.buf = append(e.buf, `","messageId":`...)
	e.idStart = len(e.buf) + 1
	switch {
	case messageID != "":
		e.buf = jsonw.AppendString(e.buf, messageID)
	case e.newID != nil:
		e.buf = jsonw.AppendString(e.buf, e.newID())
	default:
		e.buf = append(e.buf, '"')
		e.buf = appendUUID(e.buf, e.newUUID())
		e.buf = append(e.buf, '"')
	}
	e.idEnd = len(e.buf) - 1
	badTime := !ts.IsZero() && !jsonw.TimeInRange(ts)
	if ts.IsZero() {
		ts = e.now
	}
	e.buf = append(e.buf, `,"timestamp":`...)
	e.buf = jsonw.AppendTime(e.buf, ts)
	if typ == "track" {
		e.buf = append(e.buf, `,"event":`...)
		e.eventStart = len(e.buf) + 1
		e.buf = jsonw.AppendString(e.buf, event)
		e.eventEnd = len(e.buf) - 1
	}
	// After the event name is in buf, so that the error names it (see
	// eventName).
	if badTime {
		e.err = e.invalid("timestamp", "year "+strconv.Itoa(ts.UTC().Year())+" is outside of 0-9999 in UTC, which RFC 3339 cannot write")
	}
}

// end writes integrations and context and closes the message object. The
// context is ctx with e.defaults, if any, merged in.
func (e *encoder) end(ctx *Context, integrations Integrations) error {
	if err := e.optObject("integrations", "integrations", integrations); err != nil {
		return err
	}
	e.buf = append(e.buf, `,"context":{`...)
	if ctx != nil || e.defaults != nil {
		if err := e.context(ctx, e.defaults); err != nil {
			return err
		}
	}
	if e.buf[len(e.buf)-1] != '{' {
		e.buf = append(e.buf, ',')
	}
	e.buf = append(e.buf, e.library...)
	e.buf = append(e.buf, "}}"...)
	return nil
}

// or returns a unless it is the zero value, else b: the merge of a message's
// context field a with the default b (see WithDefaultContext).
func or[T comparable](a, b T) T {
	var zero T
	if a != zero {
		return a
	}
	return b
}

// Zero values standing in for an absent context or nested struct in
// encoder.context, so that each field can be merged without a nil check.
// They are only read.
var (
	noContext  Context
	noCampaign CampaignInfo
	noPage     PageInfo
	noApp      AppInfo
	noDevice   DeviceInfo
	noOS       OSInfo
	noNetwork  NetworkInfo
	noLocation LocationInfo
	noScreen   ScreenInfo
	noReferrer ReferrerInfo
)

// context writes the fields of c, merged field by field with those of d,
// the defaults (WithDefaultContext and the request's context), which fill
// in what c leaves empty; either may be nil. Nested structs merge field by
// field too, and maps by key. Keys of Extra that a set field already wrote
// are skipped, and so is "library", which the client always writes.
//
// The merge is done as it is written, without a merged Context: a merged
// copy would hold the message's strings and maps, and storing those on the
// heap would make every message escape (see encodeKnown).
func (e *encoder) context(c, d *Context) error {
	if c == nil {
		c = &noContext
	}
	if d == nil {
		d = &noContext
	}
	e.optBool("active", or(c.Active, d.Active))
	e.str("ip", or(c.IP, d.IP))
	e.str("locale", or(c.Locale, d.Locale))
	e.str("userAgent", or(c.UserAgent, d.UserAgent))
	e.str("channel", string(or(c.Channel, d.Channel)))
	e.str("timezone", or(c.Timezone, d.Timezone))
	e.str("groupId", or(c.GroupID, d.GroupID))
	if cp, dp := c.Campaign, d.Campaign; cp != nil || dp != nil {
		if cp == nil {
			cp = &noCampaign
		}
		if dp == nil {
			dp = &noCampaign
		}
		e.key("campaign")
		e.buf = append(e.buf, '{')
		name, source, medium := or(cp.Name, dp.Name), or(cp.Source, dp.Source), or(cp.Medium, dp.Medium)
		term, content := or(cp.Term, dp.Term), or(cp.Content, dp.Content)
		e.str("name", name)
		e.str("source", source)
		e.str("medium", medium)
		e.str("term", term)
		e.str("content", content)
		if err := e.mergedEntries(cp.Extra, dp.Extra, func(k string) bool {
			switch k {
			case "name":
				return name != ""
			case "source":
				return source != ""
			case "medium":
				return medium != ""
			case "term":
				return term != ""
			case "content":
				return content != ""
			}
			return false
		}); err != nil {
			return e.wrap("context.campaign", err)
		}
		e.buf = append(e.buf, '}')
	}
	if p, dp := c.Page, d.Page; p != nil || dp != nil {
		if p == nil {
			p = &noPage
		}
		if dp == nil {
			dp = &noPage
		}
		e.key("page")
		e.buf = append(e.buf, '{')
		e.str("name", or(p.Name, dp.Name))
		e.str("path", or(p.Path, dp.Path))
		e.str("referrer", or(p.Referrer, dp.Referrer))
		e.str("search", or(p.Search, dp.Search))
		e.str("title", or(p.Title, dp.Title))
		e.str("url", or(p.URL, dp.URL))
		keywords := p.Keywords
		if keywords == nil {
			keywords = dp.Keywords
		}
		e.strs("keywords", keywords)
		e.buf = append(e.buf, '}')
	}
	if a, da := c.App, d.App; a != nil || da != nil {
		if a == nil {
			a = &noApp
		}
		if da == nil {
			da = &noApp
		}
		e.key("app")
		e.buf = append(e.buf, '{')
		e.str("name", or(a.Name, da.Name))
		e.str("version", or(a.Version, da.Version))
		e.str("build", or(a.Build, da.Build))
		e.str("namespace", or(a.Namespace, da.Namespace))
		e.buf = append(e.buf, '}')
	}
	if c.Device != nil || d.Device != nil {
		e.key("device")
		e.deviceInfo(c.Device, d.Device)
	}
	if o, do := c.OS, d.OS; o != nil || do != nil {
		if o == nil {
			o = &noOS
		}
		if do == nil {
			do = &noOS
		}
		e.key("os")
		e.buf = append(e.buf, '{')
		e.str("name", or(o.Name, do.Name))
		e.str("version", or(o.Version, do.Version))
		e.buf = append(e.buf, '}')
	}
	if n, dn := c.Network, d.Network; n != nil || dn != nil {
		if n == nil {
			n = &noNetwork
		}
		if dn == nil {
			dn = &noNetwork
		}
		e.key("network")
		e.buf = append(e.buf, '{')
		e.optBool("bluetooth", or(n.Bluetooth, dn.Bluetooth))
		e.optBool("cellular", or(n.Cellular, dn.Cellular))
		e.optBool("wifi", or(n.WiFi, dn.WiFi))
		e.str("carrier", or(n.Carrier, dn.Carrier))
		e.buf = append(e.buf, '}')
	}
	if l, dl := c.Location, d.Location; l != nil || dl != nil {
		if l == nil {
			l = &noLocation
		}
		if dl == nil {
			dl = &noLocation
		}
		e.key("location")
		e.buf = append(e.buf, '{')
		e.str("city", or(l.City, dl.City))
		e.str("country", or(l.Country, dl.Country))
		e.str("region", or(l.Region, dl.Region))
		if v := or(l.Latitude, dl.Latitude); !e.optFloat("latitude", v) {
			return e.notFinite("context.location.latitude", *v)
		}
		if v := or(l.Longitude, dl.Longitude); !e.optFloat("longitude", v) {
			return e.notFinite("context.location.longitude", *v)
		}
		if v := or(l.Speed, dl.Speed); !e.optFloat("speed", v) {
			return e.notFinite("context.location.speed", *v)
		}
		e.buf = append(e.buf, '}')
	}
	if s, ds := c.Screen, d.Screen; s != nil || ds != nil {
		if s == nil {
			s = &noScreen
		}
		if ds == nil {
			ds = &noScreen
		}
		e.key("screen")
		e.buf = append(e.buf, '{')
		if w := or(s.Width, ds.Width); w != 0 {
			e.int("width", w)
		}
		if h := or(s.Height, ds.Height); h != 0 {
			e.int("height", h)
		}
		if density := or(s.Density, ds.Density); density != 0 {
			if !e.float("density", density) {
				return e.notFinite("context.screen.density", density)
			}
		}
		e.buf = append(e.buf, '}')
	}
	if r, dr := c.Referrer, d.Referrer; r != nil || dr != nil {
		if r == nil {
			r = &noReferrer
		}
		if dr == nil {
			dr = &noReferrer
		}
		e.key("referrer")
		e.buf = append(e.buf, '{')
		e.str("type", or(r.Type, dr.Type))
		e.str("name", or(r.Name, dr.Name))
		e.str("url", or(r.URL, dr.URL))
		e.str("link", or(r.Link, dr.Link))
		e.str("id", or(r.ID, dr.ID))
		e.buf = append(e.buf, '}')
	}
	if len(c.Traits) > 0 || len(d.Traits) > 0 {
		e.key("traits")
		e.buf = append(e.buf, '{')
		if err := e.mergedEntries(c.Traits, d.Traits, nil); err != nil {
			return e.wrap("context.traits", err)
		}
		e.buf = append(e.buf, '}')
	}
	if len(c.Extra) > 0 || len(d.Extra) > 0 {
		err := e.mergedEntries(c.Extra, d.Extra, func(k string) bool {
			switch k {
			case "library":
				return true
			case "active":
				return c.Active != nil || d.Active != nil
			case "ip":
				return c.IP != "" || d.IP != ""
			case "locale":
				return c.Locale != "" || d.Locale != ""
			case "userAgent":
				return c.UserAgent != "" || d.UserAgent != ""
			case "channel":
				return c.Channel != "" || d.Channel != ""
			case "timezone":
				return c.Timezone != "" || d.Timezone != ""
			case "groupId":
				return c.GroupID != "" || d.GroupID != ""
			case "campaign":
				return c.Campaign != nil || d.Campaign != nil
			case "page":
				return c.Page != nil || d.Page != nil
			case "app":
				return c.App != nil || d.App != nil
			case "device":
				return c.Device != nil || d.Device != nil
			case "os":
				return c.OS != nil || d.OS != nil
			case "network":
				return c.Network != nil || d.Network != nil
			case "location":
				return c.Location != nil || d.Location != nil
			case "screen":
				return c.Screen != nil || d.Screen != nil
			case "referrer":
				return c.Referrer != nil || d.Referrer != nil
			case "traits":
				return len(c.Traits) > 0 || len(d.Traits) > 0
			}
			return false
		})
		if err != nil {
			return e.wrap("context", err)
		}
	}
	return nil
}

// deviceInfo writes d merged with the default dd; either may be nil.
func (e *encoder) deviceInfo(d, dd *DeviceInfo) {
	if d == nil {
		d = &noDevice
	}
	if dd == nil {
		dd = &noDevice
	}
	e.buf = append(e.buf, '{')
	e.str("id", or(d.ID, dd.ID))
	e.str("manufacturer", or(d.Manufacturer, dd.Manufacturer))
	e.str("model", or(d.Model, dd.Model))
	e.str("name", or(d.Name, dd.Name))
	e.str("type", or(d.Type, dd.Type))
	e.str("token", or(d.Token, dd.Token))
	e.str("advertisingId", or(d.AdvertisingID, dd.AdvertisingID))
	e.optBool("adTrackingEnabled", or(d.AdTrackingEnabled, dd.AdTrackingEnabled))
	e.buf = append(e.buf, '}')
}

// --- the core calls ---

func (m Identify) appendMessage(e *encoder) error {
	e.typ = "identify"
	if blank(m.UserID) && blank(m.AnonymousID) {
		if email, _ := m.Traits["email"].(string); blank(email) {
			return e.invalid("userId", "userId, anonymousId or traits.email is required")
		}
	}
	if blank(m.ObjectID) && (m.ObjectTypeID != "" || len(m.RelationshipAttributes) > 0) {
		if id, _ := m.Traits["objectId"].(string); blank(id) {
			return e.invalid("traits.objectId", "is required with objectTypeId or relationshipAttributes")
		}
	}
	if m.ObjectTypeID != "" {
		if err := checkObjectType(e, "traits.objectTypeId", m.ObjectTypeID); err != nil {
			return err
		}
	}
	if _, err := objectTypeOf(e, "traits.objectTypeId", m.ObjectTypeID, "traits", m.Traits); err != nil {
		return err
	}
	e.begin("identify", "", m.MessageID, m.Timestamp)
	e.id("userId", m.UserID)
	e.id("anonymousId", m.AnonymousID)
	if blank(m.ObjectID) && m.ObjectTypeID == "" && len(m.RelationshipAttributes) == 0 {
		if err := e.optObject("traits", "traits", m.Traits); err != nil {
			return err
		}
		return e.end(m.Context, m.Integrations)
	}
	e.key("traits")
	e.buf = append(e.buf, '{')
	e.id("objectId", m.ObjectID)
	e.str("objectTypeId", m.ObjectTypeID)
	if err := e.optObject("traits.relationshipAttributes", "relationshipAttributes", m.RelationshipAttributes); err != nil {
		return err
	}
	if err := e.entries(m.Traits, func(k string) bool {
		switch k {
		case "objectId":
			return !blank(m.ObjectID)
		case "objectTypeId":
			return m.ObjectTypeID != ""
		case "relationshipAttributes":
			return len(m.RelationshipAttributes) > 0
		}
		return false
	}); err != nil {
		return e.wrap("traits", err)
	}
	e.buf = append(e.buf, '}')
	return e.end(m.Context, m.Integrations)
}

func (m Track) appendMessage(e *encoder) error {
	event := strings.TrimSpace(m.Event)
	e.typ = "track" // not e.event: see the encoder's fields
	if event == "" {
		return e.invalid("event", "event name is required")
	}
	if err := e.requireIdentity(m.UserID, m.AnonymousID); err != nil {
		return withEvent(err, event)
	}
	e.begin("track", event, m.MessageID, m.Timestamp)
	e.id("userId", m.UserID)
	e.id("anonymousId", m.AnonymousID)
	if err := e.optObject("properties", "properties", m.Properties); err != nil {
		return err
	}
	return e.end(m.Context, m.Integrations)
}

func (m Page) appendMessage(e *encoder) error {
	return e.named("page", m.UserID, m.AnonymousID, m.Name, m.Category, m.Properties, m.MessageID, m.Timestamp, m.Context, m.Integrations)
}

func (m Screen) appendMessage(e *encoder) error {
	return e.named("screen", m.UserID, m.AnonymousID, m.Name, "", m.Properties, m.MessageID, m.Timestamp, m.Context, m.Integrations)
}

// named encodes a page or screen call. A category (pages only) is sent at
// the top level and as properties.category, where it wins over the same
// key in props.
func (e *encoder) named(typ, userID, anonymousID, name, category string, props Properties, messageID string, ts time.Time, ctx *Context, integ Integrations) error {
	e.typ = typ
	if err := e.requireIdentity(userID, anonymousID); err != nil {
		return err
	}
	e.begin(typ, "", messageID, ts)
	e.id("userId", userID)
	e.id("anonymousId", anonymousID)
	e.str("name", name)
	if category == "" {
		if err := e.optObject("properties", "properties", props); err != nil {
			return err
		}
		return e.end(ctx, integ)
	}
	e.str("category", category)
	start := e.openProperties()
	e.str("category", category)
	if err := e.entries(props, func(k string) bool { return k == "category" }); err != nil {
		return e.wrap("properties", err)
	}
	e.closeProperties(start)
	return e.end(ctx, integ)
}

func (m Group) appendMessage(e *encoder) error {
	e.typ = "group"
	if err := e.required("groupId", m.GroupID); err != nil {
		return err
	}
	if m.ObjectTypeID != "" {
		if err := checkObjectType(e, "objectTypeId", m.ObjectTypeID); err != nil {
			return err
		}
	}
	objectType, err := objectTypeOf(e, "objectTypeId", m.ObjectTypeID, "traits", m.Traits)
	if err != nil {
		return err
	}
	e.begin("group", "", m.MessageID, m.Timestamp)
	e.id("userId", m.UserID)
	e.id("anonymousId", m.AnonymousID)
	e.str("groupId", m.GroupID)
	// The seed's top-level objectTypeId, and traits.object_type_id, where
	// Customer.io's Create or Update Object reads it (without it, type 1).
	e.str("objectTypeId", objectType)
	if len(m.Traits) > 0 || len(m.RelationshipAttributes) > 0 || m.ObjectTypeID != "" {
		e.key("traits")
		e.buf = append(e.buf, '{')
		e.str("object_type_id", m.ObjectTypeID)
		if err := e.optObject("traits.relationshipAttributes", "relationshipAttributes", m.RelationshipAttributes); err != nil {
			return err
		}
		if err := e.entries(m.Traits, func(k string) bool {
			switch k {
			case "relationshipAttributes":
				return len(m.RelationshipAttributes) > 0
			case "object_type_id":
				return m.ObjectTypeID != ""
			}
			return false
		}); err != nil {
			return e.wrap("traits", err)
		}
		e.buf = append(e.buf, '}')
	}
	return e.end(m.Context, m.Integrations)
}

func (m Alias) appendMessage(e *encoder) error {
	e.typ = "alias"
	if err := e.required("previousId", m.PreviousID); err != nil {
		return err
	}
	if err := e.required("userId", m.UserID); err != nil {
		return err
	}
	e.begin("alias", "", m.MessageID, m.Timestamp)
	e.id("userId", m.UserID)
	e.id("previousId", m.PreviousID)
	return e.end(m.Context, m.Integrations)
}
