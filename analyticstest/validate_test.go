package analyticstest

import (
	"net/http"
	"strings"
	"testing"
)

// TestRefusesInvalidCalls: each call the API refuses makes the fake answer
// its batch 400, naming the message and the field in the answer and in the
// recorded violation; the valid call beside it is not accepted either, as
// the API refuses the whole batch. Blank strings count as absent.
func TestRefusesInvalidCalls(t *testing.T) {
	without := func(m map[string]any, keys ...string) map[string]any {
		for _, k := range keys {
			delete(m, k)
		}
		return m
	}
	with := func(m map[string]any, kv ...any) map[string]any {
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	msg := func(typ string, kv ...any) map[string]any {
		m := map[string]any{"type": typ, "messageId": "bad", "timestamp": "2026-01-02T03:04:05.123Z"}
		return with(m, kv...)
	}
	for _, tc := range []struct {
		name  string
		msg   map[string]any
		field string
	}{
		{"track without event", without(track("bad", "u", "E"), "event"), "event"},
		{"track with a blank event", with(track("bad", "u", "E"), "event", "  "), "event"},
		{"track without a person", without(track("bad", "u", "E"), "userId"), "userId"},
		{"track with a blank userId only", with(track("bad", "u", "E"), "userId", " "), "userId"},
		{"page without a person", msg("page", "name", "Home"), "userId"},
		{"screen without a person", msg("screen", "name", "Feed"), "userId"},
		{"identify without a person or traits.email", msg("identify", "traits", map[string]any{"plan": "pro"}), "userId"},
		{"identify with a blank traits.email", msg("identify", "traits", map[string]any{"email": " "}), "userId"},
		{"group without groupId", msg("group", "userId", "u"), "groupId"},
		{"alias without previousId", msg("alias", "userId", "u"), "previousId"},
		{"alias without userId", msg("alias", "previousId", "p"), "userId"},
		{"timestamp not RFC 3339", with(track("bad", "u", "E"), "timestamp", "01/02/2026 03:04"), "timestamp"},
		{"timestamp not a string", with(track("bad", "u", "E"), "timestamp", 1767323045), "timestamp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachFake(t, func(t *testing.T, fk fake) {
				r := send(t, fk, call{body: batch(track("good", "u", "E"), tc.msg)})
				mustStatus(t, r, 400)
				if !strings.Contains(r.body, "message 1") || !strings.Contains(r.body, tc.field) {
					t.Errorf("answer %s does not name message 1 and %s", r.body, tc.field)
				}
				vs := fk.Violations()
				if len(vs) != 1 || vs[0].Kind != ViolationInvalidMessage || vs[0].Message != 1 || vs[0].Field != tc.field {
					t.Fatalf("violations %v, want one invalid-message at message 1, field %s", vs, tc.field)
				}
				if !strings.Contains(vs[0].String(), "message 1: invalid-message: "+tc.field+": ") {
					t.Errorf("String() = %q does not name the message and the field", vs[0].String())
				}
				if got := fk.Messages(); len(got) != 0 {
					t.Errorf("accepted %v from a refused batch", got)
				}
			}, WithViolationsAllowed())
		})
	}
}

// TestAcceptsValidShapes: the shapes the API takes that the rules above
// must not refuse.
func TestAcceptsValidShapes(t *testing.T) {
	msgs := []map[string]any{
		{"type": "identify", "traits": map[string]any{"email": "only@example.com"}},
		{"type": "identify", "anonymousId": "a"},
		{"type": "group", "groupId": "acme"}, // an object without a person
		{"type": "alias", "userId": "u", "previousId": "p"},
		{"type": "page", "anonymousId": "a"},
		{"type": "track", "userId": "u", "event": "E", "timestamp": "2026-01-02T03:04:05+01:00"},
	}
	forEachFake(t, func(t *testing.T, fk fake) {
		mustStatus(t, send(t, fk, call{body: batch(msgs...)}), 200)
		if vs := fk.Violations(); len(vs) != 0 {
			t.Errorf("violations %v", vs)
		}
		if got := fk.Messages(); len(got) != len(msgs) {
			t.Errorf("accepted %d messages, want %d", len(got), len(msgs))
		}
	})
}

// TestJourneysCheckByHand: a semantic event the Journeys destination could
// not act on is answered 200, as the API answers it, counts as received,
// and is recorded as a ViolationJourneys naming the message and the field
// the action reads; WithJourneysCheck(false) turns the check off.
func TestJourneysCheckByHand(t *testing.T) {
	deleted := track("del", "", "User Deleted")
	deleted["anonymousId"] = "a"
	delete(deleted, "userId")
	forEachFake(t, func(t *testing.T, fk fake) {
		mustStatus(t, send(t, fk, call{body: batch(track("ok", "u", "E"), deleted)}), 200)
		vs := fk.Violations()
		if len(vs) != 1 || vs[0].Kind != ViolationJourneys || vs[0].Message != 1 || vs[0].Field != "userId" {
			t.Fatalf("violations %v, want one journeys violation at message 1, field userId", vs)
		}
		if !strings.Contains(vs[0].Detail, `"Delete Person"`) {
			t.Errorf("detail %q does not name the action", vs[0].Detail)
		}
		if got := fk.Messages(); len(got) != 2 {
			t.Errorf("accepted %d messages, want both: the API takes the call", len(got))
		}
	}, WithViolationsAllowed())
	forEachFake(t, func(t *testing.T, fk fake) {
		mustStatus(t, send(t, fk, call{body: batch(deleted)}), 200)
		if vs := fk.Violations(); len(vs) != 0 {
			t.Errorf("violations %v with the Journeys check off", vs)
		}
	}, WithJourneysCheck(false))
}

// TestJourneysCheckFailsTheTest: the Journeys check is on by default, and
// its violation fails the user's test like any other.
func TestJourneysCheckFailsTheTest(t *testing.T) {
	ctb := &capturingTB{TB: t}
	s := NewServer(ctb)
	fk := fake{Recorder: s.Recorder, url: s.URL, client: http.DefaultClient}
	installed := track("inst", "u", "Application Installed")
	mustStatus(t, send(t, fk, call{body: batch(installed)}), 200)
	if errs := ctb.errors(); !strings.Contains(errs, "message 0: journeys: context.device.token: ") {
		t.Errorf("Journeys violation not reported to the test; Errorf got %q", errs)
	}
}

// TestJourneysCheckSkipsCallsNotSentToJourneys: a call whose integrations
// keep it from Customer.io's Journeys destination ("All": false without
// naming it, or naming it false) never reaches the action, so the check
// does not flag it; a call that names it true, or turns off another
// destination only, is still checked.
func TestJourneysCheckSkipsCallsNotSentToJourneys(t *testing.T) {
	deleted := func(integrations map[string]any) map[string]any {
		m := track("del", "", "User Deleted")
		m["anonymousId"] = "a"
		delete(m, "userId")
		m["integrations"] = integrations
		return m
	}
	for _, tc := range []struct {
		name         string
		integrations map[string]any
		flagged      bool
	}{
		{"all off", map[string]any{"All": false, "Mixpanel": true}, false},
		{"journeys off", map[string]any{"Customer.io Journeys": false}, false},
		{"customer.io off, any case", map[string]any{"customer.io": false}, false},
		{"all off but journeys on", map[string]any{"All": false, "Customer.io Journeys": true}, true},
		{"all off but journeys on with options", map[string]any{"All": false, "Customer.io": map[string]any{"x": 1}}, true},
		{"another destination off", map[string]any{"All": true, "Salesforce": false}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachFake(t, func(t *testing.T, fk fake) {
				mustStatus(t, send(t, fk, call{body: batch(deleted(tc.integrations))}), 200)
				if vs := fk.Violations(); (len(vs) == 1 && vs[0].Kind == ViolationJourneys) != tc.flagged || len(vs) > 1 {
					t.Errorf("violations %v, want flagged %v", vs, tc.flagged)
				}
			}, WithViolationsAllowed())
		})
	}
}
