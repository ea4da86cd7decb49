package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	analytics "github.com/cdpkit/analytics-go"
)

// The line types below are the API's JSON shape of each call: the
// library's message struct (whose fields encoding/json matches to the
// API's keys, userId to UserID and so on, regardless of case) plus the keys
// the struct has no field for. Context is decoded into a map and handed to
// the library whole, as analytics.Context.Extra, so that every key of the
// input's context is sent as it was written (the library replaces
// context.library with its own). sentAt and receivedAt are set by the
// sender and the API, so they are read and dropped.
type (
	lineMeta struct {
		Type       string          `json:"type"`
		Context    map[string]any  `json:"context"`
		SentAt     json.RawMessage `json:"sentAt"`
		ReceivedAt json.RawMessage `json:"receivedAt"`
	}
	identifyLine struct {
		Type       string          `json:"type"`
		Context    map[string]any  `json:"context"`
		SentAt     json.RawMessage `json:"sentAt"`
		ReceivedAt json.RawMessage `json:"receivedAt"`
		analytics.Identify
	}
	trackLine struct {
		Type       string          `json:"type"`
		Context    map[string]any  `json:"context"`
		SentAt     json.RawMessage `json:"sentAt"`
		ReceivedAt json.RawMessage `json:"receivedAt"`
		analytics.Track
	}
	pageLine struct {
		Type       string          `json:"type"`
		Context    map[string]any  `json:"context"`
		SentAt     json.RawMessage `json:"sentAt"`
		ReceivedAt json.RawMessage `json:"receivedAt"`
		analytics.Page
	}
	screenLine struct {
		Type       string          `json:"type"`
		Context    map[string]any  `json:"context"`
		SentAt     json.RawMessage `json:"sentAt"`
		ReceivedAt json.RawMessage `json:"receivedAt"`
		analytics.Screen
	}
	groupLine struct {
		Type       string          `json:"type"`
		Context    map[string]any  `json:"context"`
		SentAt     json.RawMessage `json:"sentAt"`
		ReceivedAt json.RawMessage `json:"receivedAt"`
		analytics.Group
	}
	aliasLine struct {
		Type       string          `json:"type"`
		Context    map[string]any  `json:"context"`
		SentAt     json.RawMessage `json:"sentAt"`
		ReceivedAt json.RawMessage `json:"receivedAt"`
		analytics.Alias
	}
)

// decodeMessage decodes one message in the API's JSON shape, such as
// {"type":"track","userId":"42","event":"Signed Up"}, into the library's
// message type for its "type". It checks only what decoding needs: that
// the text is one JSON object, with a known "type", whose keys the message
// type has fields for and whose values fit them. Whether the message is
// valid (an event name, a userId or anonymousId, the size limit) is for
// Enqueue to say.
func decodeMessage(data []byte) (analytics.Message, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		if err := checkSyntax(data); err != nil {
			return nil, err
		}
		return nil, errors.New("invalid JSON: not an object")
	}
	var meta lineMeta
	if err := json.Unmarshal(data, &meta); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return nil, jsonError(err)
		}
		// A value that does not fit lineMeta (such as a type that is
		// not a string) is reported below by the strict decode.
	}
	switch meta.Type {
	case "identify":
		var l identifyLine
		if err := strictDecode(data, &l); err != nil {
			return nil, err
		}
		l.Identify.Context = contextOf(l.Context)
		return l.Identify, nil
	case "track":
		var l trackLine
		if err := strictDecode(data, &l); err != nil {
			return nil, err
		}
		l.Track.Context = contextOf(l.Context)
		return l.Track, nil
	case "page":
		var l pageLine
		if err := strictDecode(data, &l); err != nil {
			return nil, err
		}
		l.Page.Context = contextOf(l.Context)
		return l.Page, nil
	case "screen":
		var l screenLine
		if err := strictDecode(data, &l); err != nil {
			return nil, err
		}
		l.Screen.Context = contextOf(l.Context)
		return l.Screen, nil
	case "group":
		var l groupLine
		if err := strictDecode(data, &l); err != nil {
			return nil, err
		}
		l.Group.Context = contextOf(l.Context)
		return l.Group, nil
	case "alias":
		var l aliasLine
		if err := strictDecode(data, &l); err != nil {
			return nil, err
		}
		l.Alias.Context = contextOf(l.Context)
		return l.Alias, nil
	case "":
		if err := strictDecode(data, &lineMeta{}); err != nil && !strings.Contains(err.Error(), "unknown field") {
			return nil, err
		}
		return nil, errors.New(`type: missing; want one of identify, track, page, screen, group, alias`)
	default:
		return nil, fmt.Errorf("type: %q is not one of identify, track, page, screen, group, alias", meta.Type)
	}
}

// strictDecode decodes data, which json.Unmarshal has found to be one
// JSON value, into v, refusing keys v has no field for, so that nothing in
// the input is dropped silently. Numbers in maps keep their digits
// (json.Number).
func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	return nil
}

func checkSyntax(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return jsonError(err)
	}
	return nil
}

// jsonError rewords an encoding/json error so that it names the field by
// its key in the input, not by the Go struct behind it.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var timeErr *time.ParseError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("invalid JSON at byte %d: %s", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.As(err, &timeErr):
		return fmt.Errorf("timestamp: %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", timeErr.Value)
	case errors.As(err, &typeErr):
		field := wireKey(typeErr.Field)
		if field == "" {
			return fmt.Errorf("invalid JSON: %s where an object was expected", typeErr.Value)
		}
		return fmt.Errorf("%s: want %s, not a JSON %s", field, jsonKind(typeErr.Type), typeErr.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errors.New("invalid JSON: unexpected end of line")
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if strings.HasPrefix(msg, "unknown field ") {
		return fmt.Errorf("%s: the API's JSON shape of this type has no such key", msg)
	}
	return errors.New(msg)
}

// jsonKind names the JSON value that decodes into a Go value of type t.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Bool:
		return "true or false"
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a number"
	}
	return "a value of Go type " + t.String()
}

// wireKeys are the API's keys of the Go fields of the message types.
var wireKeys = map[string]string{
	"UserID": "userId", "AnonymousID": "anonymousId", "Event": "event", "Name": "name",
	"GroupID": "groupId", "ObjectTypeID": "objectTypeId", "ObjectID": "objectId",
	"PreviousID": "previousId", "MessageID": "messageId", "Timestamp": "timestamp",
	"Traits": "traits", "Properties": "properties", "Integrations": "integrations",
	"RelationshipAttributes": "relationshipAttributes",
}

// wireKey returns the input's key for the field path encoding/json
// reports, such as "Track.UserID" or "properties.n".
func wireKey(path string) string {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		if k, ok := wireKeys[p]; ok {
			parts[i] = k
		}
	}
	if len(parts) > 1 {
		switch parts[0] {
		case "Identify", "Track", "Page", "Screen", "Group", "Alias":
			parts = parts[1:]
		}
	}
	return strings.Join(parts, ".")
}

// contextOf returns the input's context for the library to send as it is.
func contextOf(m map[string]any) *analytics.Context {
	if len(m) == 0 {
		return nil
	}
	return &analytics.Context{Extra: m}
}
