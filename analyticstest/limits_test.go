package analyticstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// sized returns a track message whose JSON encoding is exactly n bytes.
func sized(t *testing.T, id string, n int) map[string]any {
	t.Helper()
	m := track(id, "u", "E")
	m["properties"] = map[string]any{"pad": ""}
	b, _ := json.Marshal(m)
	if len(b) > n {
		t.Fatalf("cannot make a %d-byte message", n)
	}
	m["properties"] = map[string]any{"pad": strings.Repeat("x", n-len(b))}
	if b, _ := json.Marshal(m); len(b) != n {
		t.Fatalf("made a %d-byte message, want %d", len(b), n)
	}
	return m
}

// padded returns a batch body of exactly n bytes holding msgs, padded with
// JSON whitespace so that no message grows.
func padded(t *testing.T, n int, msgs ...map[string]any) []byte {
	t.Helper()
	b := batch(msgs...)
	if len(b) > n {
		t.Fatalf("batch is %d bytes, over %d", len(b), n)
	}
	return append(b[:len(b)-1], append(bytes.Repeat([]byte(" "), n-len(b)), '}')...)
}

func TestMessageLimit(t *testing.T) {
	forEachFake(t, func(t *testing.T, fk fake) {
		mustStatus(t, send(t, fk, call{body: batch(sized(t, "at", MaxMessageBytes))}), 200)
		if vs := fk.Violations(); len(vs) != 0 {
			t.Fatalf("a message of exactly %d bytes is a violation: %v", MaxMessageBytes, vs)
		}
		// In strict mode the API refuses the batch (without it, it answers
		// 200 and drops the call): answered 400, dropped and reported.
		mustStatus(t, send(t, fk, call{body: batch(track("ok", "u", "E"), sized(t, "over", MaxMessageBytes+1))}), 400)
		vs := fk.Violations()
		if len(vs) != 1 || vs[0].Kind != ViolationMessageTooLarge || vs[0].Request != 1 || vs[0].Message != 1 {
			t.Fatalf("violations %v, want message-too-large at request 1, message 1", vs)
		}
		if want := "request 1, message 1: message-too-large: 32001 bytes, limit 32000"; vs[0].String() != want {
			t.Errorf("String() = %q, want %q", vs[0].String(), want)
		}
		reqs := fk.Requests()
		if reqs[1].Status != 400 || reqs[1].Accepted || len(reqs[1].Messages) != 2 {
			t.Errorf("oversize request recorded as status %d, accepted %v, %d messages", reqs[1].Status, reqs[1].Accepted, len(reqs[1].Messages))
		}
		if got := fk.Messages(); len(got) != 1 || got[0].MessageID != "at" {
			t.Errorf("accepted %v, want only the first request's message", got)
		}
	}, WithViolationsAllowed())
}

func TestRequestLimit(t *testing.T) {
	for _, gz := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "gzip"}[gz]
		t.Run(name, func(t *testing.T) {
			forEachFake(t, func(t *testing.T, fk fake) {
				do := func(body []byte, status int) {
					c := call{body: body}
					if gz {
						c.encoding, c.body = "gzip", gzipped(body)
					}
					mustStatus(t, send(t, fk, c), status)
				}
				do(padded(t, MaxRequestBytes, track("at", "u", "E")), 200)
				if vs := fk.Violations(); len(vs) != 0 {
					t.Fatalf("a body of exactly %d bytes is a violation: %v", MaxRequestBytes, vs)
				}
				do(padded(t, MaxRequestBytes+1, track("over", "u", "E")), 400)
				vs := fk.Violations()
				if len(vs) != 1 || vs[0].Kind != ViolationRequestTooLarge || vs[0].Message != -1 {
					t.Fatalf("violations %v, want one request-too-large", vs)
				}
				req := fk.Requests()[1]
				if req.BodySize != MaxRequestBytes+1 || req.Accepted || req.Gzip != gz || (gz && req.WireSize >= MaxRequestBytes) {
					t.Errorf("oversize request recorded as body %d, wire %d, gzip %v, accepted %v", req.BodySize, req.WireSize, req.Gzip, req.Accepted)
				}
				if got := fk.Messages(); len(got) != 1 || got[0].MessageID != "at" {
					t.Errorf("accepted %v, want only the first request's message", got)
				}
			}, WithViolationsAllowed())
		})
	}
}

// TestViolationsFailTheTest proves that an oversize request sent by hand
// is reported to the test through Errorf, on both fakes, unless allowed.
func TestViolationsFailTheTest(t *testing.T) {
	for _, allowed := range []bool{false, true} {
		for _, name := range []string{"Server", "Transport"} {
			t.Run(fmt.Sprintf("%s/allowed=%v", name, allowed), func(t *testing.T) {
				ctb := &capturingTB{TB: t}
				var opts []Option
				if allowed {
					opts = append(opts, WithViolationsAllowed())
				}
				var fk fake
				if name == "Server" {
					s := NewServer(ctb, opts...)
					fk = fake{Recorder: s.Recorder, url: s.URL, client: http.DefaultClient}
				} else {
					tr := NewTransport(ctb, opts...)
					fk = fake{Recorder: tr.Recorder, url: tr.URL, client: tr.Client()}
				}
				mustStatus(t, send(t, fk, call{body: batch(sized(t, "big", MaxMessageBytes+1))}), 400)
				errs := ctb.errors()
				if allowed {
					if errs != "" {
						t.Errorf("allowed violation reported: %s", errs)
					}
				} else if !strings.Contains(errs, "analyticstest: request 0, message 0: message-too-large") {
					t.Errorf("violation not reported; Errorf got %q", errs)
				}
				if vs := fk.Violations(); len(vs) != 1 {
					t.Errorf("violations %v, want 1", vs)
				}
			})
		}
	}
}

// TestSeveralViolations proves that a request breaking several rules at
// once is reported once per rule, in the order the fake checks them, and
// answered as the real API in strict mode would answer it: 400.
func TestSeveralViolations(t *testing.T) {
	forEachFake(t, func(t *testing.T, fk fake) {
		noType := map[string]any{"event": "E", "userId": "u"}
		body := padded(t, MaxRequestBytes+1, noType, sized(t, "big", MaxMessageBytes+1))
		mustStatus(t, send(t, fk, call{contentType: "text/plain", body: body}), 400)
		want := []ViolationKind{ViolationContentType, ViolationRequestTooLarge, ViolationInvalidMessage, ViolationMessageTooLarge}
		vs := fk.Violations()
		if got := kinds(vs); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("violation kinds %v, want %v", got, want)
		}
		if vs[2].Message != 0 || vs[3].Message != 1 {
			t.Errorf("violations at messages %d and %d, want 0 and 1", vs[2].Message, vs[3].Message)
		}
		reqs := fk.Requests()
		if len(reqs) != 1 || reqs[0].Accepted || len(reqs[0].Violations) != len(want) || len(fk.Messages()) != 0 {
			t.Errorf("request %+v accepted or misrecorded", reqs)
		}
	}, WithViolationsAllowed())
}
