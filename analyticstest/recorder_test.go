package analyticstest

import (
	"reflect"
	"testing"
	"time"
)

func TestRecordsBatch(t *testing.T) {
	forEachFake(t, func(t *testing.T, fk fake) {
		ident := map[string]any{"type": "identify", "messageId": "m2", "anonymousId": "anon-1", "traits": map[string]any{"email": "a@example.com"}}
		body := batch(track("m1", "42", "Order Completed"), ident)
		r := send(t, fk, call{body: body})
		mustStatus(t, r, 200)
		if r.body != "{}" || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("answer %q with Content-Type %q, want {} as application/json", r.body, r.header.Get("Content-Type"))
		}

		reqs := fk.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%d requests, want 1", len(reqs))
		}
		req := reqs[0]
		if req.Index != 0 || req.Method != "POST" || req.Path != "/v1/batch" || req.APIKey != "key" || req.Gzip ||
			req.WireSize != len(body) || req.BodySize != len(body) || string(req.Body) != string(body) ||
			req.Status != 200 || !req.Accepted || req.Canceled || len(req.Violations) != 0 ||
			req.Header.Get("Content-Type") != "application/json" || req.Time.IsZero() {
			t.Errorf("request recorded as %+v", req)
		}
		if want := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC); !req.SentAt.Equal(want) {
			t.Errorf("SentAt %v, want %v", req.SentAt, want)
		}
		if len(req.Messages) != 2 {
			t.Fatalf("request holds %d messages, want 2", len(req.Messages))
		}

		msgs := fk.Messages()
		if len(msgs) != 2 {
			t.Fatalf("%d messages, want 2", len(msgs))
		}
		m := msgs[0]
		if m.Type != TypeTrack || m.MessageID != "m1" || m.UserID != "42" || m.Event != "Order Completed" || m.Request != 0 || m.Index != 0 {
			t.Errorf("track recorded as %+v", m)
		}
		if want := time.Date(2026, 1, 2, 3, 4, 5, 123e6, time.UTC); !m.Timestamp.Equal(want) {
			t.Errorf("Timestamp %v, want %v", m.Timestamp, want)
		}
		if m.Properties["total"] != 30.5 {
			t.Errorf("Properties %v", m.Properties)
		}
		lib, _ := m.Context["library"].(map[string]any)
		if lib["name"] != "analytics-go" || lib["version"] != "0.1.0" {
			t.Errorf("Context %v", m.Context)
		}
		if got := m.String(); got != `track "Order Completed" user=42` {
			t.Errorf("String() = %q", got)
		}
		var decoded struct {
			Event      string `json:"event"`
			Properties struct {
				Total float64 `json:"total"`
			} `json:"properties"`
		}
		if err := m.Decode(&decoded); err != nil || decoded.Event != "Order Completed" || decoded.Properties.Total != 30.5 {
			t.Errorf("Decode: %+v, %v", decoded, err)
		}
		id := msgs[1]
		if id.Type != TypeIdentify || id.AnonymousID != "anon-1" || id.Traits["email"] != "a@example.com" || !id.Timestamp.IsZero() || id.Index != 1 {
			t.Errorf("identify recorded as %+v", id)
		}
		if got := id.String(); got != "identify anon=anon-1" {
			t.Errorf("String() = %q", got)
		}
	})
}

func TestAllMessageFields(t *testing.T) {
	fk := newFakes()["Transport"](t)
	msgs := []map[string]any{
		{"type": "page", "messageId": "p", "userId": "u", "name": "Home", "properties": map[string]any{"path": "/"}},
		{"type": "screen", "messageId": "s", "userId": "u", "name": "Settings"},
		{"type": "group", "messageId": "g", "userId": "u", "groupId": "acme", "objectTypeId": "1", "traits": map[string]any{"plan": "pro"}},
		{"type": "alias", "messageId": "a", "userId": "u", "previousId": "old", "integrations": map[string]any{"All": true}},
	}
	mustStatus(t, send(t, fk, call{body: batch(msgs...)}), 200)
	got := fk.Messages()
	if len(got) != 4 {
		t.Fatalf("%d messages, want 4", len(got))
	}
	if got[0].Name != "Home" || got[0].Properties["path"] != "/" || got[1].Name != "Settings" ||
		got[2].GroupID != "acme" || got[2].ObjectTypeID != "1" || got[2].Traits["plan"] != "pro" ||
		got[3].PreviousID != "old" || got[3].Integrations["All"] != true {
		t.Errorf("messages recorded as %+v", got)
	}
}

func TestFinders(t *testing.T) {
	fk := newFakes()["Transport"](t)
	mustStatus(t, send(t, fk, call{body: batch(
		track("1", "ann", "Signed Up"),
		track("2", "bob", "Order Completed"),
		track("3", "ann", "Order Completed"),
		map[string]any{"type": "identify", "messageId": "4", "userId": "ann"},
	)}), 200)

	ids := func(ms []Message) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.MessageID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		got  []Message
		want []string
	}{
		{"ByEvent", fk.ByEvent("Order Completed"), []string{"2", "3"}},
		{"ByUser", fk.ByUser("ann"), []string{"1", "3", "4"}},
		{"ByType", fk.ByType(TypeIdentify), []string{"4"}},
		{"Find", fk.Find(func(m Message) bool { return m.UserID == "bob" }), []string{"2"}},
		{"none", fk.ByEvent("Nope"), nil},
	} {
		if got := ids(tc.got); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestReturnsCopies(t *testing.T) {
	fk := newFakes()["Transport"](t)
	mustStatus(t, send(t, fk, call{body: batch(track("1", "u", "E"))}), 200)

	m := fk.Messages()[0]
	m.Properties["total"] = "changed"
	m.Context["library"].(map[string]any)["name"] = "changed"
	m.Raw[0] = 'X'
	req := fk.Requests()[0]
	req.Messages[0].Properties["total"] = "changed"
	req.Header.Set("Content-Type", "changed")
	req.Body[0] = 'X'

	m = fk.Messages()[0]
	req = fk.Requests()[0]
	if m.Properties["total"] != 30.5 || m.Context["library"].(map[string]any)["name"] != "analytics-go" || m.Raw[0] != '{' ||
		req.Messages[0].Properties["total"] != 30.5 || req.Header.Get("Content-Type") != "application/json" || req.Body[0] != '{' {
		t.Error("changing a returned value changed the recorder")
	}
}

func TestReset(t *testing.T) {
	fk := newFakes(WithViolationsAllowed())["Transport"](t)
	fk.Script(Response{Status: 500}, Response{Status: 502})
	mustStatus(t, send(t, fk, call{body: batch(track("1", "u", "E"))}), 500)
	mustStatus(t, send(t, fk, call{path: "/nope"}), 404)
	fk.Reset()
	if len(fk.Requests()) != 0 || len(fk.Messages()) != 0 || len(fk.Violations()) != 0 {
		t.Fatal("Reset kept recordings")
	}
	// The script survives Reset.
	mustStatus(t, send(t, fk, call{body: batch(track("2", "u", "E"))}), 502)
	if got := fk.Requests()[0].Index; got != 0 {
		t.Errorf("first request after Reset has index %d", got)
	}
}
