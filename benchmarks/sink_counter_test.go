package benchmarks

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"
)

func countAll(body []byte, chunk int) batchCounter {
	var c batchCounter
	for len(body) > 0 {
		n := min(chunk, len(body))
		c.Write(body[:n])
		body = body[n:]
	}
	return c
}

func TestBatchCounter(t *testing.T) {
	cases := []struct {
		body  string
		n     int64
		valid bool
	}{
		{`{"batch":[]}`, 0, true},
		{`{"batch":[{}]}`, 1, true},
		{` { "batch" : [ {"a":1} , {"b":[1,2,{"c":"]"}]} ] } `, 2, true},
		{`{"messageId":"x","batch":[{"type":"track","event":"say \"hi\", [ok]"},{"p":"\\"}],"context":{"batch":[1,2,3]}}`, 2, true},
		{`{"api_key":"batch","batch":[{"x":{"batch":[{},{}]}},{},{}]}`, 3, true},
		{`{"context":{"batch":[{}]},"batch":[{},{}]}`, 2, true},
		{`{"batchx":[{}],"xbatch":[{}],"batch":[1,"a",null,[],{}]}`, 5, true},
		{`{"ba\"tch":[{}]}`, 0, false},
		{`{"events":[{}]}`, 0, false},
		{`{"batch":[{}]`, 1, false},
		{`{"batch":[{"a":"unterminated}]}`, 1, false},
	}
	for _, tc := range cases {
		for chunk := 1; chunk <= len(tc.body); chunk++ {
			c := countAll([]byte(tc.body), chunk)
			if c.Events != tc.n || c.Valid() != tc.valid {
				t.Fatalf("%s (chunk %d): got %d valid=%v, want %d valid=%v",
					tc.body, chunk, c.Events, c.Valid(), tc.n, tc.valid)
			}
		}
	}
}

// TestBatchCounterRandom checks the counter against encoding/json on
// batches of messages with awkward strings.
func TestBatchCounterRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "\"", "\\", "[", "]", "{", "}", ",", ":", "é", "\n", "batch"}
	str := func() string {
		var sb strings.Builder
		for range r.IntN(12) {
			sb.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return sb.String()
	}
	for range 300 {
		msgs := make([]any, r.IntN(40))
		for i := range msgs {
			msgs[i] = map[string]any{
				"type": "track", str(): str(),
				"properties": map[string]any{"batch": []any{str(), 1.5, map[string]any{str(): str()}}},
			}
		}
		body, err := json.Marshal(map[string]any{"api_key": str(), "batch": msgs, "context": map[string]any{str(): []any{str()}}})
		if err != nil {
			t.Fatal(err)
		}
		c := countAll(body, 1+r.IntN(64))
		if !c.Valid() || c.Events != int64(len(msgs)) {
			t.Fatalf("%s: got %d valid=%v, want %d", body, c.Events, c.Valid(), len(msgs))
		}
	}
}

func TestSink(t *testing.T) {
	s := newSink()
	t.Cleanup(s.Close)
	post := func(body []byte, gz bool) {
		var buf bytes.Buffer
		if gz {
			zw := gzip.NewWriter(&buf)
			zw.Write(body)
			zw.Close()
		} else {
			buf.Write(body)
		}
		req, _ := http.NewRequest("POST", s.URL()+"/v1/batch", &buf)
		if gz {
			req.Header.Set("Content-Encoding", "gzip")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	body := []byte(`{"batch":[{"type":"track"},{"type":"identify"}],"sentAt":"x"}`)
	post(body, false)
	post(nil, false) // empty body: bad
	post(body, true)
	st := s.Stats()
	if st.Requests != 2 || st.Events != 4 || st.Bad != 1 || st.JSONBytes != 2*int64(len(body)) || st.WireBytes == st.JSONBytes {
		t.Fatalf("stats %+v", st)
	}

	s.Reset()
	s.Stall()
	done := make(chan struct{})
	go func() { post(body, false); close(done) }()
	select {
	case <-done:
		t.Fatal("a stalled sink answered")
	case <-time.After(50 * time.Millisecond):
	}
	if n := s.Stats().Events; n != 0 {
		t.Fatalf("a stalled sink counted %d events", n)
	}
	s.Release()
	<-done
	if st := s.Stats(); st.Events != 2 || st.Requests != 1 {
		t.Fatalf("after release: %+v", st)
	}
}

// BenchmarkBatchCounter is the sink's per-request cost of counting events:
// one op is one batch of 250 Order Completed messages, fed in 32 KiB reads.
func BenchmarkBatchCounter(b *testing.B) {
	var body bytes.Buffer
	body.WriteString(`{"batch":[`)
	for i := range batchSize {
		if i > 0 {
			body.WriteByte(',')
		}
		var id [16]byte
		nextID(&id, uint64(i))
		body.Write(appendOrderCompleted(nil, &order, &id, time.Now()))
	}
	body.WriteString(`],"sentAt":"2026-01-02T03:04:05.678Z"}`)
	p := body.Bytes()
	b.SetBytes(int64(len(p)))
	for range b.N {
		c := countAll(p, 32<<10)
		if c.Events != batchSize || !c.Valid() {
			b.Fatalf("counted %d", c.Events)
		}
	}
}
