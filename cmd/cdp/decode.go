package main

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	analytics "github.com/cdpkit/analytics-go"
)

// msgFields is one message to send, in the fields the library's message
// types have: what a line of NDJSON, a CSV row or a line of a people list
// decodes into. The worker that sends it builds the library's message from
// it at the call to EnqueueContext (see send), so that the message stays on
// the worker's stack.
//
// Its maps may be ones the decoder reuses from one line to the next, and
// their values may share the memory of the input line (json.RawMessage):
// both are valid until the decoder's next line, which is enough, since
// Enqueue keeps nothing of a message.
type msgFields struct {
	typ         string // identify, track, page, screen, group, alias; or a people action's command
	userID      string
	anonymousID string
	email       string // people actions: the person named by email
	event       string
	name        string
	category    string
	groupID     string
	objectType  string
	objectID    string
	previousID  string
	messageID   string
	timestamp   time.Time
	properties  map[string]any
	traits      map[string]any
	context     map[string]any
	integ       map[string]any
	relAttrs    map[string]any
}

// text returns the string field of f whose key in the API's JSON shape
// is key (userId, anonymousId, event, name, groupId, objectTypeId,
// previousId or messageId).
func (f *msgFields) text(key string) *string {
	switch key {
	case "userId":
		return &f.userID
	case "anonymousId":
		return &f.anonymousID
	case "event":
		return &f.event
	case "name":
		return &f.name
	case "groupId":
		return &f.groupID
	case "objectTypeId":
		return &f.objectType
	case "previousId":
		return &f.previousID
	}
	return &f.messageID
}

// isEvent reports whether the message is an event (track, page or screen):
// a call a Customer.io campaign can be triggered by.
func (f *msgFields) isEvent() bool {
	switch f.typ {
	case "track", "page", "screen":
		return true
	}
	return false
}

// message returns the library's message for f (for the paths that send
// one message; the import sends through send instead).
func (f *msgFields) message() analytics.Message {
	var ctx *analytics.Context
	if len(f.context) > 0 {
		ctx = &analytics.Context{Extra: f.context}
	}
	switch f.typ {
	case "identify":
		return analytics.Identify{UserID: f.userID, AnonymousID: f.anonymousID, Traits: f.traits, ObjectID: f.objectID, ObjectTypeID: f.objectType,
			RelationshipAttributes: f.relAttrs, Timestamp: f.timestamp, Context: ctx, Integrations: f.integ, MessageID: f.messageID}
	case "track":
		return analytics.Track{UserID: f.userID, AnonymousID: f.anonymousID, Event: f.event, Properties: f.properties,
			Timestamp: f.timestamp, Context: ctx, Integrations: f.integ, MessageID: f.messageID}
	case "page":
		return analytics.Page{UserID: f.userID, AnonymousID: f.anonymousID, Name: f.name, Category: f.category, Properties: f.properties,
			Timestamp: f.timestamp, Context: ctx, Integrations: f.integ, MessageID: f.messageID}
	case "screen":
		return analytics.Screen{UserID: f.userID, AnonymousID: f.anonymousID, Name: f.name, Properties: f.properties,
			Timestamp: f.timestamp, Context: ctx, Integrations: f.integ, MessageID: f.messageID}
	case "group":
		return analytics.Group{UserID: f.userID, AnonymousID: f.anonymousID, GroupID: f.groupID, ObjectTypeID: f.objectType, Traits: f.traits,
			RelationshipAttributes: f.relAttrs, Timestamp: f.timestamp, Context: ctx, Integrations: f.integ, MessageID: f.messageID}
	case "alias":
		return analytics.Alias{UserID: f.userID, PreviousID: f.previousID, Timestamp: f.timestamp, Context: ctx, Integrations: f.integ, MessageID: f.messageID}
	case "delete-people":
		return analytics.DeletePerson{UserID: f.userID, Email: f.email, MessageID: f.messageID}
	case "suppress":
		return analytics.SuppressPerson{UserID: f.userID, Email: f.email, MessageID: f.messageID}
	case "unsuppress":
		return analytics.UnsuppressPerson{UserID: f.userID, Email: f.email, MessageID: f.messageID}
	}
	return nil
}

// The top-level keys of a line, as bits.
const (
	kType uint32 = 1 << iota
	kUserID
	kAnonymousID
	kEvent
	kName
	kCategory
	kGroupID
	kObjectTypeID
	kObjectID
	kPreviousID
	kMessageID
	kTimestamp
	kProperties
	kTraits
	kContext
	kIntegrations
	kRelationshipAttributes
	kSentAt
	kReceivedAt
)

// lineKeys are the keys a line may have, as the API spells them.
var lineKeys = []struct {
	name string
	bit  uint32
}{
	{"type", kType}, {"userId", kUserID}, {"anonymousId", kAnonymousID}, {"event", kEvent}, {"name", kName},
	{"category", kCategory}, {"groupId", kGroupID}, {"objectTypeId", kObjectTypeID}, {"objectId", kObjectID},
	{"previousId", kPreviousID}, {"messageId", kMessageID}, {"timestamp", kTimestamp}, {"properties", kProperties},
	{"traits", kTraits}, {"context", kContext}, {"integrations", kIntegrations},
	{"relationshipAttributes", kRelationshipAttributes}, {"sentAt", kSentAt}, {"receivedAt", kReceivedAt},
}

// keyBit returns the bit of a line's key. Keys match as the API spells
// them or, as encoding/json matches struct fields, in another case.
func keyBit(k []byte) uint32 {
	switch string(k) {
	case "type":
		return kType
	case "userId":
		return kUserID
	case "anonymousId":
		return kAnonymousID
	case "event":
		return kEvent
	case "name":
		return kName
	case "messageId":
		return kMessageID
	case "timestamp":
		return kTimestamp
	case "properties":
		return kProperties
	case "traits":
		return kTraits
	case "context":
		return kContext
	case "integrations":
		return kIntegrations
	}
	for _, lk := range lineKeys {
		if strings.EqualFold(lk.name, string(k)) {
			return lk.bit
		}
	}
	return 0
}

// commonKeys are the keys of every type but alias, which has no
// anonymousId; sentAt and receivedAt are set by the sender and the API,
// and are read and dropped.
const commonKeys = kType | kUserID | kAnonymousID | kMessageID | kTimestamp | kContext | kIntegrations | kSentAt | kReceivedAt

// keysOf returns the keys the JSON shape of type typ has (the fields of
// the library's message type), or 0 for an unknown type.
func keysOf(typ []byte) uint32 {
	switch string(typ) {
	case "identify":
		return commonKeys | kTraits | kObjectID | kObjectTypeID | kRelationshipAttributes
	case "track":
		return commonKeys | kEvent | kProperties
	case "page":
		return commonKeys | kName | kCategory | kProperties
	case "screen":
		return commonKeys | kName | kProperties
	case "group":
		return commonKeys | kGroupID | kObjectTypeID | kTraits | kRelationshipAttributes
	case "alias":
		return commonKeys&^kAnonymousID | kPreviousID
	}
	return 0
}

// objectKeys are the keys whose objects the decoder decodes into maps.
const objectKeys = kProperties | kTraits | kContext | kIntegrations | kRelationshipAttributes

// lazyKey reports whether the value of a top-level key is an object the
// decoder's second pass decodes, and so checks.
func lazyKey(k []byte) bool { return keyBit(k)&objectKeys != 0 }

var errTypeMissing = errors.New(`type: missing; want one of identify, track, page, screen, group, alias`)

// lineDecoder decodes NDJSON lines, each one message in the API's JSON
// shape such as {"type":"track","userId":"42","event":"Signed Up"}, into
// msgFields. It checks what decoding needs: that the line is one JSON
// object with a known "type", whose keys the type has and whose values
// fit them. Whether the message is valid (an event name, a userId or
// anonymousId, the size limit) is for Enqueue to say.
//
// A lineDecoder belongs to one goroutine: it reuses its maps and buffers
// from one line to the next.
type lineDecoder struct {
	times *timeParser
	ids   *idFrom // nil unless --id-from names fields

	sc      scanner
	members []member
	strs    interner
	// keys are the keys of each object (by the index of its map in maps)
	// of the last line, in order: the next line's keys are most often the
	// same, and a comparison is cheaper than a lookup.
	keys    [5][]string
	maps    [5]map[string]any // properties, traits, context, integrations, relationshipAttributes
	idParts [][]byte          // the values --id-from names, for the id
}

func newLineDecoder(times *timeParser, ids *idFrom) *lineDecoder {
	d := &lineDecoder{times: times, ids: ids}
	for i := range d.maps {
		d.maps[i] = make(map[string]any, 8)
	}
	return d
}

// decode decodes line into f. f's maps and values are valid until the next
// call.
func (d *lineDecoder) decode(line []byte, f *msgFields) error {
	*f = msgFields{}
	for _, m := range d.maps {
		clear(m)
	}
	d.sc = scanner{data: line}
	s := &d.sc
	s.ws()
	if s.pos >= len(line) || line[s.pos] != '{' {
		if _, err := s.value(0); err != nil {
			return err
		}
		if s.ws(); s.pos < len(line) {
			return s.fail("after top-level value")
		}
		return errNotObject
	}
	d.members = d.members[:0]
	// The objects the second pass decodes (properties and the like) are
	// checked by it, not twice.
	s.lazy = lazyKey
	if err := s.object(0, func(m member) error {
		d.members = append(d.members, m)
		return nil
	}); err != nil {
		return err
	}
	if s.ws(); s.pos < len(line) {
		return s.fail("after top-level value")
	}

	// The type first: it says which keys the line may have.
	var typ []byte
	for _, m := range d.members {
		if keyBit(m.key) != kType {
			continue
		}
		if m.kind != '"' {
			return kindError("type", "a string", m.kind)
		}
		typ = line[m.start+1 : m.end-1]
	}
	if typ == nil {
		return errTypeMissing
	}
	allowed := keysOf(typ)
	if allowed == 0 {
		return fmt.Errorf("type: %q is not one of identify, track, page, screen, group, alias", unquote(typ, true))
	}
	f.typ = d.strs.get(typ)
	for _, m := range d.members {
		bit := keyBit(m.key)
		if bit&allowed == 0 {
			return fmt.Errorf("unknown field %q: the API's JSON shape of this type has no such key", unquote(m.key, m.escaped))
		}
		raw := line[m.start:m.end]
		var err error
		switch bit {
		case kType, kSentAt, kReceivedAt:
		case kUserID:
			f.userID, err = d.str("userId", raw, m.kind, false)
		case kAnonymousID:
			f.anonymousID, err = d.str("anonymousId", raw, m.kind, false)
		case kEvent:
			f.event, err = d.str("event", raw, m.kind, true)
		case kName:
			f.name, err = d.str("name", raw, m.kind, true)
		case kCategory:
			f.category, err = d.str("category", raw, m.kind, true)
		case kGroupID:
			f.groupID, err = d.str("groupId", raw, m.kind, false)
		case kObjectTypeID:
			f.objectType, err = d.str("objectTypeId", raw, m.kind, true)
		case kObjectID:
			f.objectID, err = d.str("objectId", raw, m.kind, false)
		case kPreviousID:
			f.previousID, err = d.str("previousId", raw, m.kind, false)
		case kMessageID:
			f.messageID, err = d.str("messageId", raw, m.kind, false)
		case kTimestamp:
			f.timestamp, err = d.times.value(raw, m.kind)
		case kProperties:
			f.properties, err = d.object("properties", 0, line, m)
		case kTraits:
			f.traits, err = d.object("traits", 1, line, m)
		case kContext:
			f.context, err = d.object("context", 2, line, m)
		case kIntegrations:
			f.integ, err = d.object("integrations", 3, line, m)
		case kRelationshipAttributes:
			f.relAttrs, err = d.object("relationshipAttributes", 4, line, m)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// str returns the string value raw of the key field; null is "". Short
// strings that repeat (event names) are interned when intern is set.
func (d *lineDecoder) str(field string, raw []byte, kind byte, intern bool) (string, error) {
	switch kind {
	case '"':
		inner := raw[1 : len(raw)-1]
		if intern {
			if s, ok := d.strs.lookup(inner); ok {
				return s, nil
			}
		}
		s := unquote(inner, hasBackslash(inner))
		if intern {
			d.strs.add(s)
		}
		return s, nil
	case 'n':
		return "", nil
	}
	return "", kindError(field, "a string", kind)
}

func hasBackslash(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

// object decodes the object of the member mb of line, the key field, into
// the map d.maps[i] (which it returns), checking its syntax (the first
// pass passed over it); null is no object.
func (d *lineDecoder) object(field string, i int, line []byte, mb member) (map[string]any, error) {
	switch mb.kind {
	case '{':
	case 'n':
		return nil, nil
	default:
		return nil, kindError(field, "an object", mb.kind)
	}
	m, keys := d.maps[i], d.keys[i]
	n := 0
	raw := line[:mb.end]
	s := scanner{data: raw, pos: mb.start}
	err := s.object(0, func(mb member) error {
		var k string
		switch {
		case n < len(keys) && !mb.escaped && string(mb.key) == keys[n]:
			k = keys[n] // the key of the last line's object at this place
		case mb.escaped || !utf8.Valid(mb.key):
			k = unquote(mb.key, true)
		default:
			k = d.strs.get(mb.key)
		}
		if n < len(keys) {
			keys[n] = k
		} else {
			keys = append(keys, k)
		}
		n++
		m[k] = jsonValue(raw[mb.start:mb.end], mb.kind)
		return nil
	})
	d.keys[i] = keys[:n]
	if err == nil && s.pos != len(raw) {
		// The first pass took the object to end here, and it does not.
		err = s.fail("after object")
	}
	return m, err
}

// kindError is the error for a value of the wrong kind.
func kindError(field, want string, kind byte) error {
	return fmt.Errorf("%s: want %s, not a JSON %s", field, want, kindName(kind))
}

func kindName(kind byte) string {
	switch kind {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case '0':
		return "number"
	case 't', 'f':
		return "bool"
	}
	return "null"
}

// idValues returns the raw values of the line just decoded that --id-from
// names, in its order; ok is false, with the name, when one is missing.
func (d *lineDecoder) idValues(line []byte) (parts [][]byte, missing string) {
	d.idParts = d.idParts[:0]
	for _, path := range d.ids.fields {
		top, sub, nested := strings.Cut(path, ".")
		var raw []byte
		for _, m := range d.members {
			if string(m.key) == top {
				raw = line[m.start:m.end]
			}
		}
		if nested && raw != nil {
			inner := raw
			raw = nil
			if len(inner) > 0 && inner[0] == '{' {
				s := scanner{data: inner}
				_ = s.object(0, func(mb member) error {
					if string(mb.key) == sub {
						raw = inner[mb.start:mb.end]
					}
					return nil
				})
			}
		}
		if len(raw) == 0 || string(raw) == "null" || string(raw) == `""` {
			return nil, path
		}
		d.idParts = append(d.idParts, raw)
	}
	return d.idParts, ""
}

// interner hands out one string for each short byte string it has seen,
// so that keys and event names that repeat on every line are not
// allocated on every line. It belongs to one goroutine.
type interner struct {
	m map[string]string
}

// maxInterned bounds the interner: past it, strings are allocated.
const (
	maxInterned    = 4096
	maxInternedLen = 64
)

func (in *interner) lookup(b []byte) (string, bool) {
	s, ok := in.m[string(b)]
	return s, ok
}

func (in *interner) add(s string) {
	if len(s) > maxInternedLen {
		return
	}
	if in.m == nil {
		in.m = make(map[string]string)
	}
	if len(in.m) < maxInterned {
		in.m[s] = s
	}
}

// get returns b as an interned string.
func (in *interner) get(b []byte) string {
	if s, ok := in.lookup(b); ok {
		return s
	}
	s := string(b)
	in.add(s)
	return s
}
