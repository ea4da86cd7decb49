package analyticstest

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestAuth(t *testing.T) {
	body := batch(track("1", "u", "E"))
	for _, tc := range []struct {
		name      string
		opts      []Option
		c         call
		status    int
		violation bool
	}{
		{name: "any key by default", c: call{key: "anything"}, status: 200},
		{name: "configured key", opts: []Option{WithAPIKey("k1")}, c: call{key: "k1"}, status: 200},
		{name: "wrong key is not a violation", opts: []Option{WithAPIKey("k1")}, c: call{key: "k2"}, status: 401},
		{name: "no credentials", c: call{key: "-"}, status: 401, violation: true},
		{name: "not basic", c: call{auth: "Bearer k1"}, status: 401, violation: true},
		{name: "empty user", c: call{auth: basic("", "k1")}, status: 401, violation: true},
		{name: "non-empty password", c: call{key: "k1", password: "secret"}, status: 401, violation: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachFake(t, func(t *testing.T, fk fake) {
				c := tc.c
				c.body = body
				r := send(t, fk, c)
				mustStatus(t, r, tc.status)
				if tc.status == 401 && r.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				reqs := fk.Requests()
				if len(reqs) != 1 || reqs[0].Status != tc.status || reqs[0].Accepted != (tc.status == 200) {
					t.Fatalf("requests %+v", reqs)
				}
				vs := fk.Violations()
				if got := len(vs) > 0; got != tc.violation {
					t.Errorf("violations %v, want some: %v", vs, tc.violation)
				} else if got && vs[0].Kind != ViolationAuth {
					t.Errorf("violation %v, want auth", vs[0])
				}
				want := 0
				if tc.status == 200 {
					want = 1
				}
				if got := len(fk.Messages()); got != want {
					t.Errorf("%d messages accepted, want %d", got, want)
				}
			}, append([]Option{WithViolationsAllowed()}, tc.opts...)...)
		})
	}
}

func TestGzip(t *testing.T) {
	forEachFake(t, func(t *testing.T, fk fake) {
		body := batch(track("1", "u", "E"), track("2", "u", "E"))
		wire := gzipped(body)
		mustStatus(t, send(t, fk, call{encoding: "gzip", body: wire}), 200)
		req := fk.Requests()[0]
		if !req.Gzip || req.WireSize != len(wire) || req.BodySize != len(body) || !bytes.Equal(req.Body, body) || !req.Accepted {
			t.Errorf("gzip request recorded as %+v", req)
		}
		if len(fk.Messages()) != 2 {
			t.Errorf("%d messages, want 2", len(fk.Messages()))
		}
	})
}

// TestRejected covers requests the fake refuses, each a violation answered
// with an error status, whose messages are never accepted.
func TestRejected(t *testing.T) {
	good := batch(track("1", "u", "E"))
	for _, tc := range []struct {
		name   string
		c      call
		status int
		kind   ViolationKind
	}{
		{"GET", call{method: "GET"}, 405, ViolationMethod},
		{"PUT", call{method: "PUT", body: good}, 405, ViolationMethod},
		{"other path", call{path: "/track", body: good}, 404, ViolationPath},
		{"no /v1", call{path: "/../batch", body: good}, 404, ViolationPath},
		{"unknown encoding", call{encoding: "br", body: good}, 415, ViolationEncoding},
		{"corrupt gzip", call{encoding: "gzip", body: good}, 400, ViolationEncoding},
		{"not JSON", call{body: []byte(`{"batch":[`)}, 400, ViolationMalformed},
		{"trailing data", call{body: append(good, '}')}, 400, ViolationMalformed},
		{"no batch", call{body: []byte(`{"sentAt":"2026-01-02T03:04:05Z"}`)}, 400, ViolationMalformed},
		{"batch not array", call{body: []byte(`{"batch":{}}`)}, 400, ViolationMalformed},
		{"empty batch", call{body: []byte(`{"batch":[]}`)}, 400, ViolationMalformed},
		{"bad sentAt", call{body: []byte(`{"batch":[{"type":"track","event":"E","userId":"u"}],"sentAt":"yesterday"}`)}, 400, ViolationMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachFake(t, func(t *testing.T, fk fake) {
				fk.Script(Response{Status: 500}) // checks come before the script
				r := send(t, fk, tc.c)
				mustStatus(t, r, tc.status)
				if !strings.Contains(r.body, `"error"`) {
					t.Errorf("body %q has no error", r.body)
				}
				vs := fk.Violations()
				if len(vs) != 1 || vs[0].Kind != tc.kind || vs[0].Request != 0 || vs[0].Message != -1 {
					t.Errorf("violations %v, want one of kind %s", vs, tc.kind)
				}
				reqs := fk.Requests()
				if len(reqs) != 1 || reqs[0].Status != tc.status || reqs[0].Accepted || len(reqs[0].Violations) != 1 {
					t.Errorf("requests %+v", reqs)
				}
				if len(fk.Messages()) != 0 {
					t.Errorf("messages accepted: %v", fk.Messages())
				}
				// The scripted 500 is still queued for the next good request.
				mustStatus(t, send(t, fk, call{body: good}), 500)
			}, WithViolationsAllowed())
		})
	}
}

// TestAnsweredViolations covers violations that are answered like good
// requests (as the real API would) but whose messages are not accepted.
func TestAnsweredViolations(t *testing.T) {
	for _, tc := range []struct {
		name    string
		c       call
		kind    ViolationKind
		message int
	}{
		{"no content type", call{contentType: "-", body: batch(track("1", "u", "E"))}, ViolationContentType, -1},
		{"wrong content type", call{contentType: "text/plain", body: batch(track("1", "u", "E"))}, ViolationContentType, -1},
		{"unknown type", call{body: batch(track("1", "u", "E"), map[string]any{"type": "purchase"})}, ViolationInvalidMessage, 1},
		{"no type", call{body: batch(map[string]any{"event": "E"})}, ViolationInvalidMessage, 0},
		{"not an object", call{body: []byte(`{"batch":[42]}`)}, ViolationInvalidMessage, 0},
		{"numeric userId", call{body: []byte(`{"batch":[{"type":"track","event":"E","userId":42}]}`)}, ViolationInvalidMessage, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachFake(t, func(t *testing.T, fk fake) {
				want := 200
				if tc.kind == ViolationInvalidMessage {
					want = 400 // a call the API refuses
				}
				mustStatus(t, send(t, fk, tc.c), want)
				vs := fk.Violations()
				if len(vs) != 1 || vs[0].Kind != tc.kind || vs[0].Message != tc.message {
					t.Errorf("violations %v, want one of kind %s at message %d", vs, tc.kind, tc.message)
				}
				reqs := fk.Requests()
				if len(reqs) != 1 || reqs[0].Accepted || len(reqs[0].Messages) == 0 {
					t.Errorf("requests %+v", reqs)
				}
				if len(fk.Messages()) != 0 {
					t.Errorf("messages accepted: %v", fk.Messages())
				}
			}, WithViolationsAllowed())
		})
	}
	forEachFake(t, func(t *testing.T, fk fake) {
		mustStatus(t, send(t, fk, call{contentType: "application/json; charset=utf-8", body: batch(track("1", "u", "E"))}), 200)
		if vs := fk.Violations(); len(vs) != 0 {
			t.Errorf("charset parameter is a violation: %v", vs)
		}
	})
}
