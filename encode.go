package analytics

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cdpkit/analytics-go/internal/jsonw"
	"github.com/google/uuid"
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
	e.err = nil
}

// invalid returns a *ValidationError for field of the message being
// encoded. field and reason must not be strings of the message (see the
// encoder's fields): build them by concatenation or strings.Clone.
func (e *encoder) invalid(field, reason string) error {
	return &ValidationError{Type: e.typ, Event: e.eventName(), Field: field, Reason: reason}
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

// withEvent sets the event name of err, a *ValidationError found before
// begin wrote the name into buf, to a copy of event.
func withEvent(err error, event string) error {
	if ve, ok := err.(*ValidationError); ok && ve.Event == "" {
		ve.Event = strings.Clone(event)
	}
	return err
}

// wrap turns an encoding error inside the value at field into a
// *ValidationError naming the full path.
func (e *encoder) wrap(field string, err error) error {
	var je *jsonw.Error
	if errors.As(jsonw.Prefix(err, field), &je) {
		return e.invalid(je.Path, je.Reason)
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		// Already named inside the value at field: prefix the path
		// rather than nest the whole message in the reason.
		return e.invalid(field+"."+ve.Field, ve.Reason)
	}
	return e.invalid(field, err.Error())
}

// requireIdentity checks that a person is named.
func (e *encoder) requireIdentity(userID, anonymousID string) error {
	if strings.TrimSpace(userID) == "" && strings.TrimSpace(anonymousID) == "" {
		return e.invalid("userId", "userId or anonymousId is required")
	}
	return nil
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
		e.buf = appendUUID(e.buf, e.random())
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

// str writes key: value unless value is empty.
func (e *encoder) str(key, value string) {
	if value == "" {
		return
	}
	e.buf = jsonw.AppendKey(e.buf, key)
	e.buf = jsonw.AppendString(e.buf, value)
}

// object writes key: m unless m is empty.
func (e *encoder) object(key string, m map[string]any) error {
	if len(m) == 0 {
		return nil
	}
	e.buf = jsonw.AppendKey(e.buf, key)
	var err error
	if e.buf, err = jsonw.AppendMap(e.buf, m); err != nil {
		return e.wrap(key, err)
	}
	return nil
}

// end writes integrations and context and closes the message object.
func (e *encoder) end(ctx *Context, integrations Integrations) error {
	if err := e.object("integrations", integrations); err != nil {
		return err
	}
	e.buf = append(e.buf, `,"context":{`...)
	if ctx != nil {
		if err := e.context(ctx); err != nil {
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

func (e *encoder) optBool(key string, v *bool) {
	if v != nil {
		e.buf = jsonw.AppendKey(e.buf, key)
		e.buf = jsonw.AppendBool(e.buf, *v)
	}
}

func (e *encoder) float(field, key string, v float64) error {
	e.buf = jsonw.AppendKey(e.buf, key)
	var err error
	if e.buf, err = jsonw.AppendFloat(e.buf, v, 64); err != nil {
		return e.wrap(field, err)
	}
	return nil
}

func (e *encoder) optFloat(field, key string, v *float64) error {
	if v == nil {
		return nil
	}
	return e.float(field, key, *v)
}

func (e *encoder) int(key string, v int) {
	e.buf = jsonw.AppendKey(e.buf, key)
	e.buf = strconv.AppendInt(e.buf, int64(v), 10)
}

func (e *encoder) optInt(key string, v *int) {
	if v != nil {
		e.int(key, *v)
	}
}

// extra writes the entries of m whose keys the typed fields did not write.
func (e *encoder) extra(field string, m map[string]any, written func(string) bool) error {
	var err error
	if e.buf, err = jsonw.AppendMapEntries(e.buf, m, written); err != nil {
		return e.wrap(field, err)
	}
	return nil
}

// context writes the fields of c. Keys of c.Extra that a set field already
// wrote are skipped, and so is "library", which the client always writes.
func (e *encoder) context(c *Context) error {
	e.optBool("active", c.Active)
	e.str("ip", c.IP)
	e.str("locale", c.Locale)
	e.str("userAgent", c.UserAgent)
	e.str("channel", string(c.Channel))
	e.str("timezone", c.Timezone)
	e.str("groupId", c.GroupID)
	if c.Campaign != nil {
		e.buf = jsonw.AppendKey(e.buf, "campaign")
		e.buf = append(e.buf, '{')
		e.str("name", c.Campaign.Name)
		e.str("source", c.Campaign.Source)
		e.str("medium", c.Campaign.Medium)
		e.str("term", c.Campaign.Term)
		e.str("content", c.Campaign.Content)
		cp := c.Campaign
		if err := e.extra("context.campaign", cp.Extra, func(k string) bool {
			switch k {
			case "name":
				return cp.Name != ""
			case "source":
				return cp.Source != ""
			case "medium":
				return cp.Medium != ""
			case "term":
				return cp.Term != ""
			case "content":
				return cp.Content != ""
			}
			return false
		}); err != nil {
			return err
		}
		e.buf = append(e.buf, '}')
	}
	if p := c.Page; p != nil {
		e.buf = jsonw.AppendKey(e.buf, "page")
		e.buf = append(e.buf, '{')
		e.str("name", p.Name)
		e.str("path", p.Path)
		e.str("referrer", p.Referrer)
		e.str("search", p.Search)
		e.str("title", p.Title)
		e.str("url", p.URL)
		if p.Keywords != nil {
			e.buf = jsonw.AppendKey(e.buf, "keywords")
			e.buf = jsonw.AppendStrings(e.buf, p.Keywords)
		}
		e.buf = append(e.buf, '}')
	}
	if a := c.App; a != nil {
		e.buf = jsonw.AppendKey(e.buf, "app")
		e.buf = append(e.buf, '{')
		e.str("name", a.Name)
		e.str("version", a.Version)
		e.str("build", a.Build)
		e.str("namespace", a.Namespace)
		e.buf = append(e.buf, '}')
	}
	if d := c.Device; d != nil {
		e.buf = jsonw.AppendKey(e.buf, "device")
		e.deviceInfo(d)
	}
	if o := c.OS; o != nil {
		e.buf = jsonw.AppendKey(e.buf, "os")
		e.buf = append(e.buf, '{')
		e.str("name", o.Name)
		e.str("version", o.Version)
		e.buf = append(e.buf, '}')
	}
	if n := c.Network; n != nil {
		e.buf = jsonw.AppendKey(e.buf, "network")
		e.buf = append(e.buf, '{')
		e.optBool("bluetooth", n.Bluetooth)
		e.optBool("cellular", n.Cellular)
		e.optBool("wifi", n.WiFi)
		e.str("carrier", n.Carrier)
		e.buf = append(e.buf, '}')
	}
	if l := c.Location; l != nil {
		e.buf = jsonw.AppendKey(e.buf, "location")
		e.buf = append(e.buf, '{')
		e.str("city", l.City)
		e.str("country", l.Country)
		e.str("region", l.Region)
		if err := e.optFloat("context.location.latitude", "latitude", l.Latitude); err != nil {
			return err
		}
		if err := e.optFloat("context.location.longitude", "longitude", l.Longitude); err != nil {
			return err
		}
		if err := e.optFloat("context.location.speed", "speed", l.Speed); err != nil {
			return err
		}
		e.buf = append(e.buf, '}')
	}
	if s := c.Screen; s != nil {
		e.buf = jsonw.AppendKey(e.buf, "screen")
		e.buf = append(e.buf, '{')
		if s.Width != 0 {
			e.int("width", s.Width)
		}
		if s.Height != 0 {
			e.int("height", s.Height)
		}
		if s.Density != 0 {
			if err := e.float("context.screen.density", "density", s.Density); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, '}')
	}
	if r := c.Referrer; r != nil {
		e.buf = jsonw.AppendKey(e.buf, "referrer")
		e.buf = append(e.buf, '{')
		e.str("type", r.Type)
		e.str("name", r.Name)
		e.str("url", r.URL)
		e.str("link", r.Link)
		e.str("id", r.ID)
		e.buf = append(e.buf, '}')
	}
	if err := e.object("traits", c.Traits); err != nil {
		return e.wrap("context", err)
	}
	if len(c.Extra) > 0 {
		return e.extra("context", c.Extra, func(k string) bool {
			switch k {
			case "library":
				return true
			case "active":
				return c.Active != nil
			case "ip":
				return c.IP != ""
			case "locale":
				return c.Locale != ""
			case "userAgent":
				return c.UserAgent != ""
			case "channel":
				return c.Channel != ""
			case "timezone":
				return c.Timezone != ""
			case "groupId":
				return c.GroupID != ""
			case "campaign":
				return c.Campaign != nil
			case "page":
				return c.Page != nil
			case "app":
				return c.App != nil
			case "device":
				return c.Device != nil
			case "os":
				return c.OS != nil
			case "network":
				return c.Network != nil
			case "location":
				return c.Location != nil
			case "screen":
				return c.Screen != nil
			case "referrer":
				return c.Referrer != nil
			case "traits":
				return len(c.Traits) > 0
			}
			return false
		})
	}
	return nil
}

func (e *encoder) deviceInfo(d *DeviceInfo) {
	e.buf = append(e.buf, '{')
	e.str("id", d.ID)
	e.str("manufacturer", d.Manufacturer)
	e.str("model", d.Model)
	e.str("name", d.Name)
	e.str("type", d.Type)
	e.str("token", d.Token)
	e.str("advertisingId", d.AdvertisingID)
	e.optBool("adTrackingEnabled", d.AdTrackingEnabled)
	e.buf = append(e.buf, '}')
}

// required rejects a required identifier that is blank.
func (e *encoder) required(field, value string) error {
	if strings.TrimSpace(value) == "" {
		return e.invalid(field, "is required")
	}
	return nil
}

// --- the core calls ---

func (m Identify) appendMessage(e *encoder) error {
	e.typ = "identify"
	if strings.TrimSpace(m.UserID) == "" && strings.TrimSpace(m.AnonymousID) == "" {
		if email, _ := m.Traits["email"].(string); strings.TrimSpace(email) == "" {
			return e.invalid("userId", "userId, anonymousId or traits.email is required")
		}
	}
	if blank(m.ObjectID) && (m.ObjectTypeID != "" || len(m.RelationshipAttributes) > 0) {
		if id, _ := m.Traits["objectId"].(string); strings.TrimSpace(id) == "" {
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
		if err := e.object("traits", m.Traits); err != nil {
			return err
		}
		return e.end(m.Context, m.Integrations)
	}
	e.buf = jsonw.AppendKey(e.buf, "traits")
	e.buf = append(e.buf, '{')
	e.id("objectId", m.ObjectID)
	e.str("objectTypeId", m.ObjectTypeID)
	if len(m.RelationshipAttributes) > 0 {
		e.buf = jsonw.AppendKey(e.buf, "relationshipAttributes")
		var err error
		if e.buf, err = jsonw.AppendMap(e.buf, m.RelationshipAttributes); err != nil {
			return e.wrap("traits.relationshipAttributes", err)
		}
	}
	if err := e.extra("traits", m.Traits, func(k string) bool {
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
		return err
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
	if err := e.object("properties", m.Properties); err != nil {
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
		if err := e.object("properties", props); err != nil {
			return err
		}
		return e.end(ctx, integ)
	}
	e.str("category", category)
	start := e.openProperties()
	e.str("category", category)
	if err := e.extra("properties", props, func(k string) bool { return k == "category" }); err != nil {
		return err
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
		e.buf = jsonw.AppendKey(e.buf, "traits")
		e.buf = append(e.buf, '{')
		e.str("object_type_id", m.ObjectTypeID)
		if len(m.RelationshipAttributes) > 0 {
			if err := e.object("relationshipAttributes", m.RelationshipAttributes); err != nil {
				return e.wrap("traits", err)
			}
		}
		if err := e.extra("traits", m.Traits, func(k string) bool {
			switch k {
			case "relationshipAttributes":
				return len(m.RelationshipAttributes) > 0
			case "object_type_id":
				return m.ObjectTypeID != ""
			}
			return false
		}); err != nil {
			return err
		}
		e.buf = append(e.buf, '}')
	}
	return e.end(m.Context, m.Integrations)
}

// checkObjectType checks that v is a stringified positive integer.
func checkObjectType(e *encoder, field, v string) error {
	if n, err := strconv.ParseUint(v, 10, 32); err != nil || n == 0 {
		return e.invalid(field, "must be a positive integer in a string, such as \"1\", not "+strconv.Quote(v))
	}
	return nil
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

// --- message ids ---

// random returns the encoder's ChaCha8 generator (cryptographically strong,
// see math/rand/v2), seeding it from crypto/rand on first use, so that a
// message id costs neither a system call nor a lock; nil if crypto/rand
// failed. Encoders are pooled, so each generator serves many messages.
func (e *encoder) random() *mrand.ChaCha8 {
	if e.rng == nil {
		var seed [32]byte
		if _, err := rand.Read(seed[:]); err != nil {
			return nil
		}
		e.rng = mrand.NewChaCha8(seed)
	}
	return e.rng
}

// appendUUID appends a random (version 4) UUID drawn from g in its
// canonical text form; from crypto/rand directly if g is nil.
func appendUUID(dst []byte, g *mrand.ChaCha8) []byte {
	var hi, lo uint64
	if g != nil {
		hi, lo = g.Uint64(), g.Uint64()
	} else {
		// crypto/rand does not fail on supported platforms; fall back
		// to the package's own reader rather than send no id.
		u := uuid.New()
		hi, lo = binary.BigEndian.Uint64(u[:8]), binary.BigEndian.Uint64(u[8:])
	}
	return appendUUIDBits(dst, hi, lo)
}

// appendUUIDBits appends the version 4 UUID whose bytes are hi and lo, big
// endian, with its version and variant bits set, as 8-4-4-4-12 lowercase
// hex digits.
func appendUUIDBits(dst []byte, hi, lo uint64) []byte {
	hi = hi&^(0xf0<<8) | 0x40<<8   // byte 6: version 4
	lo = lo&^(0xc0<<56) | 0x80<<56 // byte 8: variant RFC 4122
	var b [36]byte
	binary.BigEndian.PutUint64(b[0:], hex8(uint32(hi>>32)))
	h := hex8(uint32(hi))
	binary.BigEndian.PutUint32(b[9:], uint32(h>>32))
	binary.BigEndian.PutUint32(b[14:], uint32(h))
	l := hex8(uint32(lo >> 32))
	binary.BigEndian.PutUint32(b[19:], uint32(l>>32))
	binary.BigEndian.PutUint32(b[24:], uint32(l))
	binary.BigEndian.PutUint64(b[28:], hex8(uint32(lo)))
	b[8], b[13], b[18], b[23] = '-', '-', '-', '-'
	return append(dst, b[:]...)
}

// hex8 returns the 8 lowercase hex digits of v as the bytes of a uint64,
// the most significant digit in the most significant byte: each nibble is
// spread into a byte of its own, then turned into its digit in all eight
// bytes at once.
func hex8(v uint32) uint64 {
	n := uint64(v)
	n = (n | n<<16) & 0x0000ffff0000ffff
	n = (n | n<<8) & 0x00ff00ff00ff00ff
	n = (n | n<<4) & 0x0f0f0f0f0f0f0f0f
	// Adding 6 carries into bit 4 exactly for the nibbles 10 to 15,
	// which take 'a'-'0'-10 more than the digits do.
	letters := (n + 0x0606060606060606) >> 4 & 0x0101010101010101
	return n + 0x3030303030303030 + letters*('a'-'0'-10)
}
