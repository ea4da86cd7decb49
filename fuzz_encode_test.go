package analytics_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newFuzzClient returns the in-memory fake API and a client sending to it
// one message per batch, with a fixed clock. The fake is made without the
// fuzz target's t (it outlives every input), so its violations are only
// recorded: sent checks them for each input.
func newFuzzClient(f *testing.F) (*analyticstest.Transport, *analytics.Client) {
	fake := analyticstest.NewTransport(nil)
	f.Cleanup(fake.Close)
	c, err := analytics.New(testKey,
		analytics.WithEndpoint(fake.URL),
		analytics.WithHTTPClient(fake.Client()),
		analytics.WithLogger(quietLogger()),
		analytics.WithBatchSize(1),
		analytics.WithFlushInterval(time.Hour),
		analytics.WithClock(func() time.Time { return fixedTime }),
	)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = c.Close() })
	return fake, c
}

// take returns the bodies of the requests the fake received since the
// last call, and fails t if the fake found one that breaks the API's rules.
func take(t *testing.T, fake *analyticstest.Transport) [][]byte {
	t.Helper()
	var bodies [][]byte
	for _, r := range fake.Requests() {
		bodies = append(bodies, r.Body)
	}
	assert.Empty(t, fake.Violations(), "the fake API refuses what the client sent")
	fake.Reset()
	return bodies
}

// fuzzMessage builds a message of one of the six core kinds from fuzz
// input, and says how Enqueue must judge it: the ValidationError field, or
// "" if it is valid (it may still be too large).
func fuzzMessage(kind uint8, userID, anonID, event, key, value, messageID string, f float64, pad int) (analytics.Message, string) {
	blank := func(s string) bool { return strings.TrimSpace(s) == "" }
	fields := map[string]any{"k:" + key: value, "f": f, "pad": strings.Repeat("x", pad)}
	badFloat := math.IsNaN(f) || math.IsInf(f, 0)
	switch kind % 6 {
	case 0:
		m := analytics.Track{UserID: userID, AnonymousID: anonID, Event: event, Properties: fields, MessageID: messageID}
		switch {
		case blank(event):
			return m, "event"
		case blank(userID) && blank(anonID):
			return m, "userId"
		case badFloat:
			return m, "properties.f"
		}
		return m, ""
	case 1:
		byEmail := kind&8 != 0
		if byEmail {
			fields["email"] = value
		}
		m := analytics.Identify{UserID: userID, AnonymousID: anonID, Traits: fields, MessageID: messageID}
		switch {
		case blank(userID) && blank(anonID) && (!byEmail || blank(value)):
			return m, "userId"
		case badFloat:
			return m, "traits.f"
		}
		return m, ""
	case 2, 3:
		var m analytics.Message = analytics.Page{UserID: userID, AnonymousID: anonID, Name: event, Properties: fields, MessageID: messageID}
		if kind%6 == 3 {
			m = analytics.Screen{UserID: userID, AnonymousID: anonID, Name: event, Properties: fields, MessageID: messageID}
		}
		switch {
		case blank(userID) && blank(anonID):
			return m, "userId"
		case badFloat:
			return m, "properties.f"
		}
		return m, ""
	case 4:
		typed := kind&8 != 0
		if typed {
			fields["object_type_id"] = value
		}
		m := analytics.Group{UserID: userID, AnonymousID: anonID, GroupID: event, Traits: fields, MessageID: messageID}
		n, err := strconv.ParseUint(value, 10, 32)
		switch {
		case blank(event):
			return m, "groupId"
		case typed && (err != nil || n == 0):
			return m, "traits.object_type_id"
		case badFloat:
			return m, "traits.f"
		}
		return m, ""
	default:
		// Alias has no properties or traits: the fields go in
		// context.traits, so the size can still be steered.
		m := analytics.Alias{UserID: userID, PreviousID: event, MessageID: messageID,
			Context: &analytics.Context{Traits: analytics.Traits{"pad": strings.Repeat("x", pad), "k:" + key: value}}}
		switch {
		case blank(event):
			return m, "previousId"
		case blank(userID):
			return m, "userId"
		}
		return m, ""
	}
}

// jsonString is s as it reads after a trip through JSON: invalid UTF-8
// replaced by U+FFFD, as the client and encoding/json both do.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}

// FuzzEnqueue sends fuzzed core messages through the real pipeline (a
// client whose HTTP client captures the request bodies):
//
//   - Enqueue never panics, and refuses a message iff the validation rules
//     (modelled independently here) or the size limit say so, naming the
//     right field;
//   - an accepted message arrives as valid JSON, in a body that is exactly
//     the envelope around it, with its fields intact (strings as JSON
//     repairs them);
//   - size accounting is exact: padded to exactly MaxMessageBytes the
//     message is accepted and sent as exactly MaxMessageBytes bytes; one
//     byte more and it is refused, with the measured size in the error.
func FuzzEnqueue(f *testing.F) {
	f.Add(uint8(0), "user-1", "", "Order Completed", "price", "12.5", "", 1.5)
	f.Add(uint8(1), "", "", "", "plan", "a@example.com", "id-1", 0.0)
	f.Add(uint8(9), "", "", "", "plan", "a@example.com", "", 0.0)
	f.Add(uint8(2), "", "anon\xff", "Home\u2028", "k\x00ey", "v\"\\\b\f", "", math.Copysign(0, -1))
	f.Add(uint8(3), " ", "\t", "Feed", "", "", "", math.Inf(1))
	f.Add(uint8(4), "u", "", "acme", "name", "ACME <&>", "", 1e21)
	f.Add(uint8(12), "u", "", "acme", "name", "007", "", 1e-7)
	f.Add(uint8(12), "u", "", "acme", "name", "0", "", 3.0)
	f.Add(uint8(5), "new", "", "old", "k", "\xed\xa0\x80", "\xff\xfe", math.NaN())
	f.Add(uint8(0), "u", "", "  ", "k", "v", "", 0.0)

	tr, c := newFuzzClient(f)

	f.Fuzz(func(t *testing.T, kind uint8, userID, anonID, event, key, value, messageID string, fv float64) {
		msg, field := fuzzMessage(kind, userID, anonID, event, key, value, messageID, fv, 0)
		err := c.Enqueue(msg)
		if field != "" {
			var ve *analytics.ValidationError
			require.ErrorAs(t, err, &ve, "%T: want a ValidationError for %s", msg, field)
			require.ErrorIs(t, err, analytics.ErrInvalidMessage, "%T", msg)
			require.Equal(t, field, ve.Field, "%T: the field the ValidationError names (%v)", msg, err)
			return
		}
		if errors.Is(err, analytics.ErrMessageTooLarge) {
			return // the fuzzed strings alone are over the limit
		}
		require.NoError(t, err, "%T: Enqueue, want it accepted", msg)
		raw := sent(t, c, tr)
		checkSent(t, msg, raw, kind, userID, anonID, event, key, value, messageID, fv)

		// Steer the size to the limit with the pad.
		pad := analytics.MaxMessageBytes - len(raw)
		require.GreaterOrEqual(t, pad, 0, "accepted a message of %d bytes", len(raw))
		atLimit, _ := fuzzMessage(kind, userID, anonID, event, key, value, messageID, fv, pad)
		require.NoError(t, c.Enqueue(atLimit), "a message of exactly MaxMessageBytes")
		require.Equal(t, analytics.MaxMessageBytes, len(sent(t, c, tr)), "padded to the limit, the size of the message sent")
		over, _ := fuzzMessage(kind, userID, anonID, event, key, value, messageID, fv, pad+1)
		err = c.Enqueue(over)
		require.ErrorIs(t, err, analytics.ErrMessageTooLarge, "a message of MaxMessageBytes+1")
		require.Contains(t, err.Error(), fmt.Sprintf("encodes to %d bytes", analytics.MaxMessageBytes+1))
		require.Empty(t, take(t, tr), "a refused message was sent")
	})
}

// sent flushes and returns the one message of the one request sent,
// after checking the envelope around it byte by byte.
func sent(t *testing.T, c *analytics.Client, tr *analyticstest.Transport) []byte {
	t.Helper()
	require.NoError(t, c.Flush(bounded(t)), "Flush")
	bodies := take(t, tr)
	require.Len(t, bodies, 1, "requests")
	body := bodies[0]
	require.True(t, json.Valid(body), "the request body is not valid JSON: %q", body)
	var env struct {
		Batch  []json.RawMessage `json:"batch"`
		SentAt string            `json:"sentAt"`
	}
	require.NoError(t, json.Unmarshal(body, &env), "body %q", body)
	require.Len(t, env.Batch, 1, "messages in body %q", body)
	raw := env.Batch[0]
	want := append(append([]byte(`{"batch":[`), raw...), `],"sentAt":"2026-01-02T03:04:05.678Z"}`...)
	require.Equal(t, want, body, "the body is not the envelope around the message:\n%s", body)
	return raw
}

func checkSent(t *testing.T, msg analytics.Message, raw []byte, kind uint8, userID, anonID, event, key, value, messageID string, fv float64) {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m), "message %q", raw)
	wantType := map[uint8]string{0: "track", 1: "identify", 2: "page", 3: "screen", 4: "group", 5: "alias"}[kind%6]
	require.Equal(t, wantType, m["type"], "type")
	sentID, _ := m["messageId"].(string)
	require.NotEmpty(t, sentID, "messageId")
	if messageID != "" {
		require.Equal(t, jsonString(messageID), sentID, "messageId")
	}
	require.Equal(t, "2026-01-02T03:04:05.678Z", m["timestamp"], "timestamp")
	str := func(k, want string) {
		t.Helper()
		got, present := m[k]
		if want == "" {
			require.False(t, present, "%s: %q sent for an empty field", k, got)
		} else {
			require.Equal(t, jsonString(want), got, k)
		}
	}
	// An id blank after trimming is not sent (it counts as absent).
	id := func(s string) string {
		if strings.TrimSpace(s) == "" {
			return ""
		}
		return s
	}
	str("userId", id(userID))
	if wantType != "alias" {
		str("anonymousId", id(anonID))
	}
	var fields map[string]any
	switch wantType {
	case "track":
		str("event", strings.TrimSpace(event))
		fields, _ = m["properties"].(map[string]any)
	case "page", "screen":
		str("name", event)
		fields, _ = m["properties"].(map[string]any)
	case "identify":
		fields, _ = m["traits"].(map[string]any)
	case "group":
		str("groupId", event)
		fields, _ = m["traits"].(map[string]any)
	case "alias":
		str("previousId", event)
		ctx, _ := m["context"].(map[string]any)
		fields, _ = ctx["traits"].(map[string]any)
	}
	require.Equal(t, jsonString(value), fields["k:"+jsonString(key)], "field %q (message %s)", "k:"+key, raw)
	if wantType != "alias" {
		got, _ := fields["f"].(float64)
		require.True(t, got == fv || fv == 0 && got == 0, "f: %v, want %v", fields["f"], fv)
	}
	ctx, _ := m["context"].(map[string]any)
	lib, _ := ctx["library"].(map[string]any)
	require.Equal(t, analytics.LibraryName, lib["name"], "context.library")
}

// FuzzEnqueueValue sends any JSON value, decoded as encoding/json decodes
// it into a user's map, as a property through the real pipeline: Enqueue
// never panics; it refuses the value iff it nests deeper than 64 levels
// or makes the message too large; an accepted value arrives as valid
// JSON equal to what encoding/json makes of it.
func FuzzEnqueueValue(f *testing.F) {
	for _, s := range []string{
		`null`, `0`, `-1.5e300`, `"\u0000\ud800"`, `{"a":[1,{"b":null}],"c":"<&>"}`, `[[],{},""]`,
		strings.Repeat("[", 63) + strings.Repeat("]", 63), strings.Repeat("[", 64) + strings.Repeat("]", 64),
		strings.Repeat(`{"k":`, 64) + "1" + strings.Repeat("}", 64),
	} {
		f.Add([]byte(s), false)
	}
	tr, c := newFuzzClient(f)

	f.Fuzz(func(t *testing.T, data []byte, useNumber bool) {
		d := json.NewDecoder(bytes.NewReader(data))
		if useNumber {
			d.UseNumber()
		}
		var v any
		if err := d.Decode(&v); err != nil {
			return
		}
		err := c.Enqueue(analytics.Track{UserID: "u", Event: "Fuzzed", Properties: analytics.Properties{"v": v}})
		tooDeep := 1+valueDepth(v) > 64
		switch {
		case tooDeep:
			var ve *analytics.ValidationError
			require.ErrorAs(t, err, &ve, "a value %d levels deep: want a ValidationError", 1+valueDepth(v))
			require.True(t, strings.HasPrefix(ve.Field, "properties.v"), "a value %d levels deep: %v", 1+valueDepth(v), err)
			return
		case errors.Is(err, analytics.ErrMessageTooLarge):
			return
		case err != nil && strings.Contains(err.Error(), "overflows a float64"):
			// Deliberately stricter than encoding/json, which writes a
			// number (a json.Number such as 1e1000) it cannot read back.
			want, _ := json.Marshal(v)
			var back any
			require.False(t, json.Unmarshal(want, &back) == nil, "Enqueue = %v, but encoding/json reads back %s", err, want)
			return
		case err != nil:
			require.NoError(t, err, "Enqueue")
		}
		raw := sent(t, c, tr)
		require.LessOrEqual(t, len(raw), analytics.MaxMessageBytes, "the size of a message sent")
		var got struct {
			Properties struct {
				V json.RawMessage `json:"v"`
			} `json:"properties"`
		}
		require.NoError(t, json.Unmarshal(raw, &got), "message %q", raw)
		want, err := json.Marshal(v)
		require.NoError(t, err, "encoding/json")
		var gotV, wantV any
		dg, dw := json.NewDecoder(bytes.NewReader(got.Properties.V)), json.NewDecoder(bytes.NewReader(want))
		dg.UseNumber()
		dw.UseNumber()
		require.False(t, dg.Decode(&gotV) != nil || dw.Decode(&wantV) != nil || !jsonEqual(gotV, wantV), "sent %s, encoding/json makes %s", got.Properties.V, want)
	})
}

// valueDepth is how many levels below a value the encoder descends: one
// per non-empty map or list on the way to the deepest element.
func valueDepth(v any) int {
	d := -1
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			d = max(d, valueDepth(e))
		}
	case []any:
		for _, e := range x {
			d = max(d, valueDepth(e))
		}
	}
	return d + 1
}

// jsonEqual compares decoded JSON values, numbers by their value.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		fx, err1 := x.Float64()
		fy, err2 := y.Float64()
		return x == y || err1 == nil && err2 == nil && fx == fy
	}
	return a == b
}
