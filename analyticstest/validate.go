package analyticstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file holds which calls are invalid: the rules of the Data Pipelines
// API for one call (refused with 400), and the Journeys check, the fields
// without which Customer.io's Journeys destination cannot act on a
// semantic event (answered as the API answers, but recorded). The rules of
// the request as a whole (method, path, credentials, body, sizes) are in
// handler.go.

// ViolationJourneys is a semantic event that the API accepts but that
// Customer.io's Journeys destination could not act on, such as "User
// Deleted" without a userId or "Application Installed" without
// context.device.token: Customer.io would silently do nothing. The request
// is answered as usual and its messages count as received; the violation
// fails the test like any other (see WithViolationsAllowed, and
// WithJourneysCheck to turn the check off).
const ViolationJourneys ViolationKind = "journeys"

// WithJourneysCheck turns the Journeys check on (the default) or off. The
// check records a ViolationJourneys for each semantic event that triggers
// an action of Customer.io's Journeys destination without a field the
// action needs, as recorded in this module's event catalog: for example
// "User Deleted" without userId, "Application Installed" without
// context.device.token or context.device.type, or "Report Content Event"
// without anonymousId. A call whose integrations keep it from the
// destination ("All": false without naming Customer.io, or a key naming
// Customer.io set to false) is not checked.
func WithJourneysCheck(on bool) Option {
	return func(r *Recorder) { r.noJourneys = !on }
}

// refuses reports whether the API refuses a request that broke the rule
// of kind k: a call it cannot accept, or a call or a batch over the size
// limits. The Journeys check is not the API's.
func (k ViolationKind) refuses() bool {
	switch k {
	case ViolationInvalidMessage, ViolationMessageTooLarge, ViolationRequestTooLarge:
		return true
	}
	return false
}

// checkCall returns the rules that m, message i of its batch, breaks: what
// the API refuses and, when journeys is true, what the Journeys destination
// could not act on. Each violation names the message and the field.
func checkCall(i int, m Message, journeys bool) []Violation {
	top, err := decodeTop(m.Raw)
	if err != nil {
		// parseMessage has already said what is wrong with it.
		return nil
	}
	var out []Violation
	bad := func(kind ViolationKind, field, format string, args ...any) {
		out = append(out, Violation{Kind: kind, Message: i, Field: field, Detail: field + ": " + fmt.Sprintf(format, args...)})
	}
	apiRules(m, top, func(field, format string, args ...any) {
		bad(ViolationInvalidMessage, field, format, args...)
	})
	if journeys && len(out) == 0 && toJourneys(m.Integrations) {
		journeysRules(m, top, func(field, format string, args ...any) {
			bad(ViolationJourneys, field, format, args...)
		})
	}
	return out
}

// apiRules checks what the API requires of one call (seed 002): a track
// names its event; every call but a group names a person by userId or
// anonymousId (an identify may name them by traits.email alone); a group
// names its groupId; an alias names both previousId and userId; a
// timestamp is RFC 3339. Blank strings count as absent.
func apiRules(m Message, top map[string]any, bad func(field, format string, args ...any)) {
	if ts, ok := top["timestamp"]; ok {
		s, _ := ts.(string)
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			bad("timestamp", "%s is not an RFC 3339 date-time", jsonText(ts))
		}
	}
	switch m.Type {
	case TypeAlias:
		if !present(top, "previousId") {
			bad("previousId", "an alias needs the previousId of the person merged away")
		}
		if !present(top, "userId") {
			bad("userId", "an alias needs the userId of the person kept")
		}
		return
	case TypeGroup:
		// The Group schema marks no person required: an object may be
		// created or updated without relating anyone to it.
		if !present(top, "groupId") {
			bad("groupId", "a group needs a groupId")
		}
		return
	case TypeTrack:
		if !present(top, "event") {
			bad("event", "a track needs an event name")
		}
	}
	if present(top, "userId") || present(top, "anonymousId") {
		return
	}
	if m.Type == TypeIdentify {
		if !present(top, "traits.email") {
			bad("userId", "an identify needs a userId, an anonymousId or traits.email")
		}
		return
	}
	bad("userId", "a %s needs a userId or an anonymousId", m.Type)
}

// toJourneys reports whether a call with these integrations reaches
// Customer.io's Journeys destination: not when a key naming Customer.io
// (such as "Customer.io Journeys", in any case) is false, nor when "All"
// is false and no such key turns it back on. A call that never reaches
// the destination is not the Journeys check's concern.
func toJourneys(integrations map[string]any) bool {
	named := false
	for k, v := range integrations {
		if strings.Contains(strings.ToLower(k), "customer.io") {
			if v == false {
				return false
			}
			named = true
		}
	}
	return named || integrations["All"] != false
}

// journeysRules checks the fields a semantic event needs for the action of
// Customer.io's Journeys destination that it triggers, as the catalog
// records them.
func journeysRules(m Message, top map[string]any, bad func(field, format string, args ...any)) {
	cat, err := loadCatalog()
	if err != nil {
		return // As reports a broken catalog; the module's tests catch it
	}
	for _, a := range cat.ActionsFor(m.Type, m.Event) {
		for _, f := range a.Fields {
			if !f.Required || slices.ContainsFunc(f.Paths, func(p string) bool { return present(top, p) }) {
				continue
			}
			bad(f.Paths[0], "Customer.io's %q action, which %q triggers, reads its %s from %s, and the call has none: Customer.io would do nothing",
				a.Name, m.Event, f.Name, strings.Join(f.Paths, " or "))
		}
	}
}

// present reports whether the dotted path holds a value in top: not null,
// and not a blank string.
func present(top map[string]any, path string) bool {
	var v any = top
	for _, k := range strings.Split(path, ".") {
		o, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = o[k]; !ok {
			return false
		}
	}
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return strings.TrimSpace(x) != ""
	}
	return true
}

// decodeTop decodes a call as a JSON object, numbers as json.Number.
func decodeTop(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var top map[string]any
	err := dec.Decode(&top)
	return top, err
}

// jsonText returns v as JSON, for details.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
