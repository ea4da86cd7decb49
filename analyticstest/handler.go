package analyticstest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
)

// batchPath is the only path the fake serves.
const batchPath = "/v1/batch"

// maxReadBytes bounds how much of a body the fake reads, compressed or
// not, so that a runaway client cannot exhaust memory.
const maxReadBytes = 64 << 20

// answer is what the fake decided to do with a request, independent of
// whether it is delivered over a socket (Server) or returned from
// RoundTrip (Transport).
type answer struct {
	status int
	header http.Header
	body   []byte
	// hangUp means give no answer: close the connection, or fail the
	// round trip. err says why.
	hangUp bool
	reset  bool // hang up with a TCP reset
	err    error
}

// handle checks, records and answers one request. It is the one
// implementation of the wire protocol behind both Server and Transport.
// It reads req.Body but does not close it.
func (r *Recorder) handle(req *http.Request) answer {
	if !r.begin() {
		return answer{hangUp: true, err: errClosed}
	}
	defer r.end()

	rec := Request{
		Time:   time.Now(),
		Method: req.Method,
		Path:   req.URL.Path,
		URL:    requestURL(req),
		Header: req.Header.Clone(),
	}
	violate := func(kind ViolationKind, msg int, format string, args ...any) {
		rec.Violations = append(rec.Violations, Violation{Kind: kind, Message: msg, Detail: fmt.Sprintf(format, args...)})
	}
	// reject records the request and answers it with an error status.
	reject := func(status int, detail string) answer {
		rec.Status = status
		r.record(rec)
		body, _ := json.Marshal(map[string]string{"error": detail})
		return answer{status: status, header: http.Header{"Content-Type": {"application/json"}}, body: body}
	}

	var wire []byte
	if req.Body != nil {
		var err error
		wire, err = io.ReadAll(io.LimitReader(req.Body, maxReadBytes+1))
		if err != nil {
			// The client went away while sending; nobody will read
			// an answer.
			rec.WireSize = len(wire)
			rec.Canceled = true
			r.record(rec)
			return answer{hangUp: true, err: err}
		}
	}
	rec.WireSize = len(wire)
	user, pass, hasAuth := req.BasicAuth()
	rec.APIKey = user

	if req.Method != http.MethodPost {
		violate(ViolationMethod, -1, "method %s, want POST", req.Method)
		a := reject(http.StatusMethodNotAllowed, "method not allowed")
		a.header.Set("Allow", http.MethodPost)
		return a
	}
	if req.URL.Path != batchPath {
		violate(ViolationPath, -1, "path %q, want %q", req.URL.Path, batchPath)
		return reject(http.StatusNotFound, "not found")
	}
	switch {
	case !hasAuth:
		violate(ViolationAuth, -1, "no basic auth credentials (want the API key as user name and an empty password)")
	case user == "":
		violate(ViolationAuth, -1, "basic auth with an empty user name (want the API key)")
	case pass != "":
		violate(ViolationAuth, -1, "basic auth with a non-empty password (want it empty)")
	}
	if len(rec.Violations) > 0 {
		return unauthorized(reject(http.StatusUnauthorized, "unauthorized"))
	}
	if r.apiKey != "" && user != r.apiKey {
		// A wrong key is a fact about the test's set-up, not a protocol
		// error: answer as the API would and record it.
		return unauthorized(reject(http.StatusUnauthorized, "unauthorized"))
	}
	if len(wire) > maxReadBytes {
		violate(ViolationRequestTooLarge, -1, "body over %d bytes on the wire, limit %d decoded", maxReadBytes, MaxRequestBytes)
		return reject(http.StatusRequestEntityTooLarge, "request too large")
	}

	body := wire
	switch enc := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		rec.Gzip = true
		var err error
		body, err = gunzip(wire)
		if err != nil {
			violate(ViolationEncoding, -1, "gzip body: %v", err)
			return reject(http.StatusBadRequest, "bad gzip body")
		}
	default:
		violate(ViolationEncoding, -1, "Content-Encoding %q, want gzip or none", enc)
		return reject(http.StatusUnsupportedMediaType, "unsupported content encoding")
	}
	rec.Body, rec.BodySize = body, len(body)
	if ct := req.Header.Get("Content-Type"); ct == "" {
		violate(ViolationContentType, -1, "no Content-Type, want application/json")
	} else if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		violate(ViolationContentType, -1, "Content-Type %q, want application/json", ct)
	}
	if len(body) > MaxRequestBytes {
		violate(ViolationRequestTooLarge, -1, "%d bytes, limit %d", len(body), MaxRequestBytes)
	}

	var env struct {
		Batch  *[]json.RawMessage `json:"batch"`
		SentAt *string            `json:"sentAt"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		violate(ViolationMalformed, -1, "body is not a JSON batch: %v", err)
		return reject(http.StatusBadRequest, "malformed JSON")
	}
	if env.Batch != nil {
		for i, raw := range *env.Batch {
			m, field, problem := parseMessage(raw)
			m.Index = i
			rec.Messages = append(rec.Messages, m)
			if problem == "" && r.rule != nil {
				if err := r.rule(m); err != nil {
					problem = err.Error()
				}
			}
			if problem != "" {
				rec.Violations = append(rec.Violations, Violation{Kind: ViolationInvalidMessage, Message: i, Field: field, Detail: problem})
			} else {
				rec.Violations = append(rec.Violations, checkCall(i, m, !r.noJourneys)...)
			}
			if len(raw) > MaxMessageBytes {
				violate(ViolationMessageTooLarge, i, "%d bytes, limit %d", len(raw), MaxMessageBytes)
			}
		}
	}
	if env.SentAt != nil {
		t, err := time.Parse(time.RFC3339Nano, *env.SentAt)
		if err != nil {
			violate(ViolationMalformed, -1, "sentAt %q is not RFC 3339", *env.SentAt)
			return reject(http.StatusBadRequest, "bad sentAt")
		}
		rec.SentAt = t
	}
	switch {
	case env.Batch == nil:
		violate(ViolationMalformed, -1, `body has no "batch" array`)
		return reject(http.StatusBadRequest, "no batch")
	case len(*env.Batch) == 0:
		violate(ViolationMalformed, -1, `"batch" is empty`)
		return reject(http.StatusBadRequest, "empty batch")
	}
	// Strict mode, as the API documents it: with X-Strict-Mode: 1 a batch
	// holding a call the API refuses, or over a size limit, is answered
	// 400, naming the first such message and field; without it the API
	// logs the problem and answers as usual. Either way the violation is
	// recorded and the batch is not accepted.
	if strictMode(req.Header) {
		for _, v := range rec.Violations {
			if v.Kind.refuses() {
				detail := string(v.Kind) + ": " + v.Detail
				if v.Message >= 0 {
					detail = fmt.Sprintf("message %d: %s", v.Message, detail)
				}
				return reject(http.StatusBadRequest, detail)
			}
		}
	}

	resp := r.nextResponse()
	if err := r.delay(req, resp); err != nil {
		rec.Canceled = true
		r.record(rec)
		return answer{hangUp: true, err: err}
	}
	if resp.CloseConnection || resp.Reset || resp.Refuse {
		r.record(rec)
		switch {
		case resp.Refuse:
			return answer{hangUp: true, reset: true, err: connectionRefused(req)}
		case resp.Reset:
			return answer{hangUp: true, reset: true, err: errConnectionReset}
		}
		return answer{hangUp: true, err: errConnectionClosed}
	}

	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	rec.Status = status
	rec.Accepted = status >= 200 && status < 300 && !slices.ContainsFunc(rec.Violations, func(v Violation) bool { return v.Kind != ViolationJourneys })
	// Record before answering, so that a client that has its answer
	// finds its messages recorded.
	r.record(rec)

	a := answer{status: status, header: http.Header{"Content-Type": {"application/json"}}, body: []byte(resp.Body)}
	if resp.Body == "" {
		a.body = []byte("{}")
	}
	if resp.RetryAfter != "" {
		a.header.Set("Retry-After", resp.RetryAfter)
	}
	return a
}

// requestURL is the absolute URL req was sent to. A server's request has
// only its path and query in URL, and its host in Host.
func requestURL(req *http.Request) string {
	if req.URL.IsAbs() {
		return req.URL.String()
	}
	scheme := "http"
	if req.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + req.Host + req.URL.RequestURI()
}

// strictMode reports whether a request asks for strict mode.
func strictMode(h http.Header) bool {
	return strings.TrimSpace(h.Get("X-Strict-Mode")) == "1"
}

// delay keeps the answer back as resp says (Delay, Hang, then Hold). It
// returns an error if the request is canceled or the fake closed first.
func (r *Recorder) delay(req *http.Request, resp Response) error {
	if resp.Delay > 0 || resp.Hang {
		var wait <-chan time.Time // nil: forever
		if !resp.Hang {
			timer := time.NewTimer(resp.Delay)
			defer timer.Stop()
			wait = timer.C
		}
		if err := await(r, req, wait); err != nil {
			return err
		}
	}
	if resp.Hold != nil {
		return await(r, req, resp.Hold)
	}
	return nil
}

// await waits for ch (a nil ch: forever) unless the request is canceled
// or the fake closed first, which it returns as an error.
func await[T any](r *Recorder, req *http.Request, ch <-chan T) error {
	select {
	case <-ch:
		return nil
	case <-req.Context().Done():
		return req.Context().Err()
	case <-r.done:
		return errClosed
	}
}

func unauthorized(a answer) answer {
	a.header.Set("WWW-Authenticate", `Basic realm="Data Pipelines"`)
	return a
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxReadBytes+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxReadBytes {
		return nil, fmt.Errorf("decodes to more than %d bytes", maxReadBytes)
	}
	return out, nil
}
