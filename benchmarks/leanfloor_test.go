package benchmarks

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The lean floor is the yardstick of every table, so it must be a client
// that delivers what a real one delivers: these tests check that it writes
// messages the API accepts, loses nothing it accepted, keeps to its bounds
// and sends a partial batch on its tick.

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestLeanFloorMessagesAreValid(t *testing.T) {
	now := time.Date(2026, 12, 2, 1, 40, 5, 987654321, time.FixedZone("x", 3600))
	o := order
	o.Products = append([]product{{ProductID: "p\"1\\\n\x01é\xff", Name: "<x>", Price: 1e21, Quantity: -3}}, o.Products...)
	var head [leanMaxMessage]byte
	orderMsg := appendOrderProperties(append(appendLeanHead(head[:0], "track", o.UserID, now), `,"event":"Order Completed"`...), &o)
	ids := map[string]bool{}
	for _, tc := range []struct {
		name string
		msg  []byte
		want map[string]any // fields to compare, after a JSON round trip
	}{
		{"track3", appendLeanTrack3(nil, now), map[string]any{"type": "track", "userId": track3UserID, "event": track3Event,
			"properties": map[string]any{"button": track3Button, "items": float64(track3Items), "plan": track3Plan}}},
		{"identify5", appendLeanIdentify5(nil, now), map[string]any{"type": "identify", "userId": identifyUserID,
			"traits": map[string]any{"email": identifyEmail, "logins": float64(identifyLogins), "name": identifyName,
				"plan": identifyPlan, "verified": identifyVerified}}},
		{"order", orderMsg, map[string]any{"type": "track", "userId": o.UserID, "event": orderEvent}},
	} {
		var m map[string]any
		if err := json.Unmarshal(tc.msg, &m); err != nil {
			t.Fatalf("%s: %s: %v", tc.name, tc.msg, err)
		}
		for k, v := range tc.want {
			got, _ := json.Marshal(m[k])
			want, _ := json.Marshal(v)
			if string(got) != string(want) {
				t.Errorf("%s: %s = %s, want %s", tc.name, k, got, want)
			}
		}
		id, _ := m["messageId"].(string)
		if !uuidV4.MatchString(id) || ids[id] {
			t.Errorf("%s: messageId %q is not a new version-4 UUID", tc.name, id)
		}
		ids[id] = true
		if m["timestamp"] != "2026-12-02T00:40:05.987Z" {
			t.Errorf("%s: timestamp %v, want 2026-12-02T00:40:05.987Z", tc.name, m["timestamp"])
		}
		lib, _ := json.Marshal(m["context"])
		if string(lib) != `{"library":{"name":"cdpkit/analytics-go","version":"0.0.0"}}` {
			t.Errorf("%s: context %s", tc.name, lib)
		}
	}
	var m struct {
		Properties struct {
			Products []struct {
				ProductID string  `json:"product_id"`
				Price     float64 `json:"price"`
				Quantity  int     `json:"quantity"`
			} `json:"products"`
		}
	}
	if err := json.Unmarshal(orderMsg, &m); err != nil || len(m.Properties.Products) != 3 {
		t.Fatalf("order: %s: %v", orderMsg, err)
	}
	if p := m.Properties.Products[0]; p.ProductID != "p\"1\\\n\x01é\ufffd" || p.Price != 1e21 || p.Quantity != -3 {
		t.Errorf("order: first product %+v", p)
	}
}

// TestAppendTimestamp checks the hand-written timestamp against
// time.AppendFormat over years 0 to 9999, leap days and the ends of days.
func TestAppendTimestamp(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	lo := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	times := []time.Time{
		time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC),
		time.Date(2000, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1900, 2, 28, 12, 0, 0, 1e6, time.UTC),
		time.Unix(lo, 0), time.Unix(hi, 999e6),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), // outside: the fallback
	}
	for range 100_000 {
		times = append(times, time.Unix(lo+r.Int64N(hi-lo), r.Int64N(1e9)))
	}
	for _, tm := range times {
		want := `"` + tm.UTC().Format("2006-01-02T15:04:05.000Z07:00") + `"`
		if got := string(appendTimestamp(nil, tm)); got != want {
			t.Fatalf("appendTimestamp(%v) = %s, want %s", tm, got, want)
		}
	}
}

// startLeanForTest starts a lean floor sending to url, ticking only when
// the test sends on the returned channel.
func startLeanForTest(t *testing.T, url string, batch int, wait bool) (*leanFloor, chan time.Time) {
	t.Helper()
	tick := make(chan time.Time)
	tr := newTransport()
	t.Cleanup(tr.CloseIdleConnections)
	f := startLeanFloor(clientConfig{endpoint: url, transport: tr, batchSize: batch, wait: wait}, tick, nil)
	return f, tick
}

func TestLeanFloorDeliversEveryAcceptedEvent(t *testing.T) {
	sk := newSink()
	defer sk.Close()
	f, _ := startLeanForTest(t, sk.URL(), 50, true)
	const producers, each = 8, 1000
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range producers {
		wg.Go(func() {
			for i := range each {
				var err error
				switch i % 3 {
				case 0:
					err = f.Track3()
				case 1:
					err = f.Identify5()
				default:
					err = f.TrackOrder(&order)
				}
				if err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	st := sk.Stats()
	if failed.Load() != 0 || st.Events != producers*each || st.Bad != 0 {
		t.Fatalf("%d calls failed; the sink counted %d events (%d bad requests), want %d", failed.Load(), st.Events, st.Bad, producers*each)
	}
	if st.Requests != producers*each/50 {
		t.Errorf("%d requests, want %d full batches", st.Requests, producers*each/50)
	}
	if err := f.Track3(); err != errLeanClosed {
		t.Errorf("Track3 after Close: %v, want errLeanClosed", err)
	}
}

// TestLeanFloorRefusesWhenEveryBodyIsInUse: against a stalled server it
// accepts what its bodies hold and refuses the rest at once, without
// waiting; once the server answers it delivers exactly what it accepted.
func TestLeanFloorRefusesWhenEveryBodyIsInUse(t *testing.T) {
	sk := newSink()
	defer sk.Close()
	sk.Stall()
	const batch = 10
	f, _ := startLeanForTest(t, sk.URL(), batch, false)
	accepted, refused := 0, 0
	done := make(chan error, 1)
	go func() {
		for range 10 * leanBodies * batch {
			switch err := f.Track3(); err {
			case nil:
				accepted++
			case errLeanFull:
				refused++
			default:
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a call waited for the stalled server")
	}
	// A body whose request the server holds is free again once net/http
	// has written it, so up to one more body per sender may be filled.
	if lo, hi := leanBodies*batch, (leanBodies+leanSenders)*batch; accepted < lo || accepted > hi || refused == 0 {
		t.Errorf("accepted %d and refused %d, want %d to %d accepted (%d bodies of %d, and one more per sender) and the rest refused",
			accepted, refused, lo, hi, leanBodies, batch)
	}
	sk.Release()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if st := sk.Stats(); st.Events != int64(accepted) {
		t.Errorf("the sink counted %d events, want the %d accepted", st.Events, accepted)
	}
}

func TestLeanFloorSendsAPartialBatchOnItsTick(t *testing.T) {
	sk := newSink()
	defer sk.Close()
	f, tick := startLeanForTest(t, sk.URL(), 250, false)
	defer f.Close()
	for range 3 {
		if err := f.Track3(); err != nil {
			t.Fatal(err)
		}
	}
	tick <- time.Now()
	if n := sk.WaitEvents(3, 10*time.Second, 10*time.Second); n != 3 {
		t.Fatalf("after a tick the sink counted %d events, want 3", n)
	}
}

// TestLeanFloorKeepsBodiesUnderTheAPILimit: with batches too large for
// 500 KB, a body is cut before it would pass the limit.
func TestLeanFloorKeepsBodiesUnderTheAPILimit(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	var events int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var m struct{ Batch []json.RawMessage }
		if err := json.Unmarshal(body, &m); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		sizes = append(sizes, len(body))
		events += len(m.Batch)
		mu.Unlock()
	}))
	defer srv.Close()
	f, _ := startLeanForTest(t, srv.URL, 10_000, true)
	const n = 4000 // about 1.3 MB of Order Completed
	for range n {
		if err := f.TrackOrder(&order); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if events != n || len(sizes) < 3 {
		t.Fatalf("%d events in %d requests, want %d in at least 3", events, len(sizes), n)
	}
	for _, s := range sizes {
		if s > leanMaxBody {
			t.Errorf("a body of %d bytes, over %d", s, leanMaxBody)
		}
	}
}

// TestAppendUUIDv4 checks the UUID's text against the bytes it is made of.
func TestAppendUUIDv4(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 10_000 {
		hi, lo := r.Uint64(), r.Uint64()
		got := string(appendUUIDv4(nil, hi, lo))
		var id [16]byte
		for i := range 8 {
			id[i], id[8+i] = byte(hi>>(56-8*i)), byte(lo>>(56-8*i))
		}
		id[6] = 0x40 | id[6]&0x0f
		id[8] = 0x80 | id[8]&0x3f
		want := fmt.Sprintf("%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:16])
		if got != want {
			t.Fatalf("appendUUIDv4(%#x, %#x) = %s, want %s", hi, lo, got, want)
		}
	}
}
