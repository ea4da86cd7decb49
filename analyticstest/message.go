package analyticstest

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Message types the Data Pipelines API accepts in a batch, as they appear
// in a message's "type" field.
const (
	TypeIdentify = "identify"
	TypeTrack    = "track"
	TypePage     = "page"
	TypeScreen   = "screen"
	TypeGroup    = "group"
	TypeAlias    = "alias"
)

// Message is one call from a batch, as the fake received it.
//
// The string fields are copied from the top-level JSON fields of the same
// name (UserID from "userId" and so on) and are empty when the field is
// absent. Properties, Traits, Context and Integrations are the decoded JSON
// objects (nil when absent); Raw holds the message exactly as it appeared in
// the batch. Use Decode to read the message into a struct of your own.
//
// Messages returned by a Recorder are copies: changing one, including its
// maps, does not change what the Recorder holds.
type Message struct {
	Type         string // "identify", "track", "page", "screen", "group" or "alias"
	MessageID    string // "messageId"
	UserID       string // "userId"
	AnonymousID  string // "anonymousId"
	Event        string // "event" (track)
	Name         string // "name" (page, screen)
	GroupID      string // "groupId" (group)
	ObjectTypeID string // "objectTypeId" (group)
	PreviousID   string // "previousId" (alias)

	// Timestamp is "timestamp" parsed as RFC 3339, or the zero time when
	// the message has none.
	Timestamp time.Time

	Properties   map[string]any // "properties" (track, page, screen)
	Traits       map[string]any // "traits" (identify, group)
	Context      map[string]any // "context"
	Integrations map[string]any // "integrations"

	// Raw is the message's JSON exactly as it appeared in the batch. Its
	// length is what the per-message limit (MaxMessageBytes) is checked
	// against.
	Raw json.RawMessage

	// Request is the index, in Requests(), of the request that carried
	// the message, and Index its position in that request's batch.
	Request, Index int
}

// Decode unmarshals the message's raw JSON into v, as json.Unmarshal does.
func (m Message) Decode(v any) error {
	return json.Unmarshal(m.Raw, v)
}

// String returns a short description such as `track "Order Completed" user=42`,
// for failure messages.
func (m Message) String() string {
	s := m.Type
	if s == "" {
		s = "(no type)"
	}
	switch {
	case m.Event != "":
		s += fmt.Sprintf(" %q", m.Event)
	case m.Name != "":
		s += fmt.Sprintf(" %q", m.Name)
	}
	switch {
	case m.UserID != "":
		s += " user=" + m.UserID
	case m.AnonymousID != "":
		s += " anon=" + m.AnonymousID
	}
	return s
}

// wireMessage is the part of a message the fake reads.
type wireMessage struct {
	Type         string         `json:"type"`
	MessageID    string         `json:"messageId"`
	UserID       string         `json:"userId"`
	AnonymousID  string         `json:"anonymousId"`
	Event        string         `json:"event"`
	Name         string         `json:"name"`
	GroupID      string         `json:"groupId"`
	ObjectTypeID string         `json:"objectTypeId"`
	PreviousID   string         `json:"previousId"`
	Timestamp    string         `json:"timestamp"`
	Properties   map[string]any `json:"properties"`
	Traits       map[string]any `json:"traits"`
	Context      map[string]any `json:"context"`
	Integrations map[string]any `json:"integrations"`
}

// parseMessage decodes raw into a Message. It returns the message decoded
// as far as possible and a description of what is wrong with it, if
// anything: a message that is not an object, has a missing or unknown type,
// or a field of the wrong JSON type. The rules of each type are checkCall's.
//
// field names the offending field, when the problem is about one.
func parseMessage(raw json.RawMessage) (m Message, field, problem string) {
	m = Message{Raw: append(json.RawMessage(nil), raw...)}
	var w wireMessage
	err := json.Unmarshal(raw, &w)
	// On a type mismatch json.Unmarshal still fills the other fields.
	m.Type, m.MessageID, m.UserID, m.AnonymousID = w.Type, w.MessageID, w.UserID, w.AnonymousID
	m.Event, m.Name, m.GroupID, m.ObjectTypeID, m.PreviousID = w.Event, w.Name, w.GroupID, w.ObjectTypeID, w.PreviousID
	m.Properties, m.Traits, m.Context, m.Integrations = w.Properties, w.Traits, w.Context, w.Integrations
	if err != nil {
		if len(raw) == 0 || raw[0] != '{' {
			return m, "", "message is not a JSON object"
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return m, te.Field, fmt.Sprintf("%s: a JSON %s, want a %s", te.Field, te.Value, te.Type)
		}
		return m, "", err.Error()
	}
	if w.Timestamp != "" {
		// A timestamp that does not parse is left zero; checkCall
		// (validate.go) reports it.
		m.Timestamp, _ = time.Parse(time.RFC3339Nano, w.Timestamp)
	}
	switch w.Type {
	case TypeIdentify, TypeTrack, TypePage, TypeScreen, TypeGroup, TypeAlias:
		return m, "", ""
	case "":
		return m, "type", `type: message has no "type"`
	default:
		return m, "type", fmt.Sprintf("type: unknown message type %q", w.Type)
	}
}

// clone returns a deep copy of m.
func (m Message) clone() Message {
	m.Raw = append(json.RawMessage(nil), m.Raw...)
	m.Properties = cloneMap(m.Properties)
	m.Traits = cloneMap(m.Traits)
	m.Context = cloneMap(m.Context)
	m.Integrations = cloneMap(m.Integrations)
	return m
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = cloneValue(v)
	}
	return c
}

func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cloneMap(v)
	case []any:
		c := make([]any, len(v))
		for i, e := range v {
			c[i] = cloneValue(e)
		}
		return c
	default:
		return v // string, float64, bool, nil: immutable
	}
}
