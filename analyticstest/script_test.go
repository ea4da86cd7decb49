package analyticstest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestScriptRetries(t *testing.T) {
	forEachFake(t, func(t *testing.T, fk fake) {
		date := "Wed, 21 Oct 2026 07:28:00 GMT"
		fk.Script(
			Response{Status: 500, RetryAfter: "2"},
			Response{Status: 503, RetryAfter: date, Body: `{"error":"busy"}`},
		)
		fk.Script(Response{Status: 200, Body: `{"ok":true}`})
		body := batch(track("1", "u", "E"))

		r := send(t, fk, call{body: body})
		mustStatus(t, r, 500)
		if got := r.header.Get("Retry-After"); got != "2" {
			t.Errorf("Retry-After %q, want 2", got)
		}
		r = send(t, fk, call{body: body})
		mustStatus(t, r, 503)
		if got := r.header.Get("Retry-After"); got != date || r.body != `{"error":"busy"}` {
			t.Errorf("Retry-After %q, body %q", got, r.body)
		}
		r = send(t, fk, call{body: body})
		mustStatus(t, r, 200)
		if r.header.Get("Retry-After") != "" || r.body != `{"ok":true}` {
			t.Errorf("Retry-After %q, body %q", r.header.Get("Retry-After"), r.body)
		}
		// The script has run out: back to the default.
		mustStatus(t, send(t, fk, call{body: batch(track("2", "u", "E"))}), 200)

		var statuses []int
		var accepted []bool
		for _, req := range fk.Requests() {
			statuses = append(statuses, req.Status)
			accepted = append(accepted, req.Accepted)
			if len(req.Messages) != 1 {
				t.Errorf("request %d holds %d messages", req.Index, len(req.Messages))
			}
		}
		if want := []int{500, 503, 200, 200}; !reflect.DeepEqual(statuses, want) {
			t.Errorf("statuses %v, want %v", statuses, want)
		}
		if want := []bool{false, false, true, true}; !reflect.DeepEqual(accepted, want) {
			t.Errorf("accepted %v, want %v", accepted, want)
		}
		// The retried message counts once, as the API accepted it once.
		if got := fk.Messages(); len(got) != 2 || got[0].MessageID != "1" || got[0].Request != 2 || got[1].MessageID != "2" {
			t.Errorf("messages %v", got)
		}
		if vs := fk.Violations(); len(vs) != 0 {
			t.Errorf("violations %v", vs)
		}
	})
}

func TestSetDefault(t *testing.T) {
	forEachFake(t, func(t *testing.T, fk fake) {
		fk.SetDefault(Response{Status: 503, RetryAfter: "1"})
		fk.Script(Response{Status: 202})
		body := batch(track("1", "u", "E"))
		mustStatus(t, send(t, fk, call{body: body}), 202) // the script comes first
		for range 3 {
			r := send(t, fk, call{body: body})
			mustStatus(t, r, 503)
			if r.header.Get("Retry-After") != "1" {
				t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
			}
		}
		if got := len(fk.Messages()); got != 1 {
			t.Errorf("%d messages accepted, want 1 (from the 202)", got)
		}
		fk.SetDefault(Response{})
		mustStatus(t, send(t, fk, call{body: body}), 200)
	})
}

func TestDelay(t *testing.T) {
	forEachFake(t, func(t *testing.T, fk fake) {
		fk.Script(Response{Delay: 50 * time.Millisecond})
		start := time.Now()
		mustStatus(t, send(t, fk, call{body: batch(track("1", "u", "E"))}), 200)
		if d := time.Since(start); d < 50*time.Millisecond {
			t.Errorf("answered after %v, want at least 50ms", d)
		}
		if len(fk.Messages()) != 1 {
			t.Errorf("delayed 200 not accepted")
		}
	})
}

func TestDelayClientTimeout(t *testing.T) {
	forEachFake(t, func(t *testing.T, fk fake) {
		fk.Script(Response{Delay: time.Minute})
		start := time.Now()
		r := send(t, fk, call{body: batch(track("1", "u", "E")), ctx: timeout(t, 100*time.Millisecond)})
		if !errors.Is(r.err, context.DeadlineExceeded) {
			t.Fatalf("got %+v, want context.DeadlineExceeded", r)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("client waited %v", d)
		}
		reqs, err := fk.WaitForRequests(timeout(t, 10*time.Second), 1)
		if err != nil {
			t.Fatal(err)
		}
		if req := reqs[0]; !req.Canceled || req.Status != 0 || req.Accepted || len(req.Messages) != 1 {
			t.Errorf("request recorded as %+v", req)
		}
		if len(fk.Messages()) != 0 {
			t.Error("message of an unanswered request accepted")
		}
		// The fake still works.
		mustStatus(t, send(t, fk, call{body: batch(track("2", "u", "E"))}), 200)
	})
}

// TestDelayClose shows that closing the fake ends delayed answers at once,
// so a test does not hang on them.
func TestDelayClose(t *testing.T) {
	forEachFake(t, func(t *testing.T, fk fake) {
		fk.Script(Response{Delay: time.Minute})
		done := make(chan result)
		go func() { done <- send(t, fk, call{body: batch(track("1", "u", "E"))}) }()
		if _, err := fk.WaitForRequests(timeout(t, 100*time.Millisecond), 1); err == nil {
			t.Fatal("delayed request recorded before its answer")
		}
		start := time.Now()
		fk.close()
		fk.close() // safe twice
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Close took %v", d)
		}
		if r := <-done; r.err == nil {
			t.Errorf("got %+v, want an error", r)
		}
		if reqs := fk.Requests(); len(reqs) != 1 || !reqs[0].Canceled {
			t.Errorf("requests %+v", reqs)
		}
		if r := send(t, fk, call{body: batch(track("2", "u", "E"))}); r.err == nil {
			t.Errorf("request after Close got %+v, want an error", r)
		}
	})
}

func TestWaitForMessages(t *testing.T) {
	forEachFake(t, func(t *testing.T, fk fake) {
		go func() {
			time.Sleep(20 * time.Millisecond)
			send(t, fk, call{body: batch(track("1", "u", "E"))})
			send(t, fk, call{body: batch(track("2", "u", "E"), track("3", "u", "E"))})
		}()
		msgs, err := fk.WaitForMessages(timeout(t, 10*time.Second), 3)
		if err != nil || len(msgs) != 3 {
			t.Fatalf("got %d messages, %v", len(msgs), err)
		}
		msgs, err = fk.WaitForMessages(context.Background(), 0)
		if err != nil || len(msgs) != 3 {
			t.Errorf("waiting for 0: %d messages, %v", len(msgs), err)
		}
	})
}

func TestWaitForMessagesTimeout(t *testing.T) {
	forEachFake(t, func(t *testing.T, fk fake) {
		fk.Script(Response{Status: 500})
		mustStatus(t, send(t, fk, call{body: batch(track("1", "u", "Signed Up"))}), 500)
		mustStatus(t, send(t, fk, call{body: batch(track("1", "u", "Signed Up"))}), 200)

		msgs, err := fk.WaitForMessages(timeout(t, 50*time.Millisecond), 2)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want DeadlineExceeded", err)
		}
		if len(msgs) != 1 {
			t.Errorf("got %d messages with the error, want the 1 accepted", len(msgs))
		}
		want := `analyticstest: waiting for 2 messages: context deadline exceeded; got 1 accepted messages [track "Signed Up" user=u] in 2 requests answered [500 200], 0 violations`
		if err.Error() != want {
			t.Errorf("error\n%s\nwant\n%s", err, want)
		}

		reqs, err := fk.WaitForRequests(timeout(t, 50*time.Millisecond), 3)
		if !errors.Is(err, context.DeadlineExceeded) || len(reqs) != 2 || !strings.Contains(err.Error(), "waiting for 3 requests") {
			t.Errorf("WaitForRequests: %d requests, %v", len(reqs), err)
		}
	})
}

func TestConcurrent(t *testing.T) {
	forEachFake(t, func(t *testing.T, fk fake) {
		fk.Script(Response{Status: 500}, Response{Status: 429}, Response{Delay: time.Millisecond})
		const senders, each = 16, 10
		var wg sync.WaitGroup
		stop := make(chan struct{})
		var readers sync.WaitGroup
		for range 4 {
			readers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					_ = fk.Messages()
					_ = fk.Requests()
					_ = fk.ByEvent("E")
					_ = fk.Violations()
				}
			})
		}
		waited := make(chan error, 1)
		go func() {
			_, err := fk.WaitForMessages(timeout(t, 30*time.Second), senders*each*2-2*2)
			waited <- err
		}()
		for s := range senders {
			wg.Go(func() {
				for i := range each {
					id := string(rune('a'+s)) + string(rune('0'+i))
					send(t, fk, call{body: batch(track(id+"x", "u", "E"), track(id+"y", "u", "E"))})
				}
			})
		}
		wg.Wait()
		if err := <-waited; err != nil {
			t.Error(err)
		}
		close(stop)
		readers.Wait()

		reqs := fk.Requests()
		if len(reqs) != senders*each {
			t.Fatalf("%d requests, want %d", len(reqs), senders*each)
		}
		counts := map[int]int{}
		for i, req := range reqs {
			if req.Index != i {
				t.Errorf("request %d has index %d", i, req.Index)
			}
			counts[req.Status]++
		}
		if want := map[int]int{500: 1, 429: 1, 200: senders*each - 2}; !reflect.DeepEqual(counts, want) {
			t.Errorf("statuses %v, want %v", counts, want)
		}
		msgs := fk.Messages()
		if len(msgs) != (senders*each-2)*2 {
			t.Errorf("%d messages, want %d", len(msgs), (senders*each-2)*2)
		}
		seen := map[string]bool{}
		for _, m := range msgs {
			if seen[m.MessageID] {
				t.Errorf("message %s accepted twice", m.MessageID)
			}
			seen[m.MessageID] = true
			if reqs[m.Request].Messages[m.Index].MessageID != m.MessageID {
				t.Errorf("message %s points at the wrong request", m.MessageID)
			}
		}
	})
}

func TestTransportIgnoresHost(t *testing.T) {
	tr := NewTransport(t)
	req, _ := http.NewRequest("POST", "https://cdp-eu.customer.io/v1/batch", strings.NewReader(string(batch(track("1", "u", "E")))))
	req.SetBasicAuth("key", "")
	req.Header.Set("Content-Type", "application/json")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Status != "200 OK" || resp.Request != req || resp.ProtoMajor != 1 {
		t.Errorf("response %+v", resp)
	}
	if len(tr.Messages()) != 1 {
		t.Errorf("%d messages", len(tr.Messages()))
	}
	if got := tr.Requests()[0].URL; got != "https://cdp-eu.customer.io/v1/batch" {
		t.Errorf("URL %q, want the host the request was sent to", got)
	}
}

func TestServerCloseTwice(t *testing.T) {
	s := NewServer(t)
	s.Close()
	s.Close() // and once more by t.Cleanup
	tr := NewTransport(t)
	tr.Close()
	tr.Close()
}

// TestResetAndHang: Reset fails the request with a connection reset (on
// a Transport, an error wrapping ECONNRESET); Hang holds it until the
// client's context ends, and records it as Canceled. Neither accepts the
// messages.
func TestResetAndHang(t *testing.T) {
	forEachFake(t, func(t *testing.T, fk fake) {
		fk.Script(Response{Reset: true}, Response{Hang: true})
		r := send(t, fk, call{body: batch(track("1", "u", "E"))})
		if r.err == nil {
			t.Fatalf("reset: got %+v, want an error", r)
		}
		if _, isTransport := fk.client.Transport.(*Transport); isTransport && !errors.Is(r.err, syscall.ECONNRESET) {
			t.Errorf("reset: error %v, want one wrapping ECONNRESET", r.err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if r := send(t, fk, call{body: batch(track("2", "u", "E")), ctx: ctx}); r.err == nil {
			t.Fatalf("hang: got %+v, want an error", r)
		}
		if _, err := fk.WaitForRequests(timeout(t, 10*time.Second), 2); err != nil {
			t.Fatal(err)
		}
		reqs := fk.Requests()
		if len(reqs) != 2 || reqs[0].Status != 0 || reqs[0].Accepted || !reqs[1].Canceled || reqs[1].Accepted {
			t.Errorf("requests %+v", reqs)
		}
		if got := fk.Messages(); len(got) != 0 {
			t.Errorf("messages %v", got)
		}
	})
}

// TestHold: a held answer is given once Hold is closed; another held
// request ends when its client gives up.
func TestHold(t *testing.T) {
	forEachFake(t, func(t *testing.T, fk fake) {
		release := make(chan struct{})
		fk.Script(Response{Hold: release, Status: 202}, Response{Hold: make(chan struct{})})
		got := make(chan result, 1)
		go func() { got <- send(t, fk, call{body: batch(track("1", "u", "E"))}) }()
		if _, err := fk.WaitForRequests(timeout(t, 100*time.Millisecond), 1); err == nil {
			t.Fatal("a held request was recorded before it was answered")
		}
		close(release)
		select {
		case r := <-got:
			mustStatus(t, r, 202)
		case <-time.After(10 * time.Second):
			t.Fatal("the held request was not answered after Hold closed")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if r := send(t, fk, call{body: batch(track("2", "u", "E")), ctx: ctx}); r.err == nil {
			t.Fatalf("got %+v, want an error", r)
		}
		if _, err := fk.WaitForRequests(timeout(t, 10*time.Second), 2); err != nil {
			t.Fatal(err)
		}
		reqs := fk.Requests()
		if !reqs[0].Accepted || !reqs[1].Canceled || reqs[1].Accepted {
			t.Errorf("requests %+v", reqs)
		}
	})
}

// TestConnectionFaults: CloseConnection and Refuse fail the request (on
// a Transport with the error a real transport returns: io.EOF for a
// connection closed, a dial *net.OpError wrapping ECONNREFUSED naming the
// host for a refusal; a Server closes or resets the connection), record
// it with Status 0, not accepted, and the next request is answered.
func TestConnectionFaults(t *testing.T) {
	for _, tt := range []struct {
		name string
		resp Response
		// transportErr checks the error of a Transport's RoundTrip.
		transportErr func(t *testing.T, err error)
	}{
		{"CloseConnection", Response{CloseConnection: true}, func(t *testing.T, err error) {
			if !errors.Is(err, io.EOF) {
				t.Errorf("error %v, want one wrapping io.EOF", err)
			}
		}},
		{"Refuse", Response{Refuse: true}, func(t *testing.T, err error) {
			var op *net.OpError
			if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &op) || op.Op != "dial" {
				t.Errorf("error %v, want a dial *net.OpError wrapping ECONNREFUSED", err)
			}
			if !strings.Contains(err.Error(), "analyticstest.invalid") {
				t.Errorf("error %q does not name the host", err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			forEachFake(t, func(t *testing.T, fk fake) {
				fk.Script(tt.resp)
				r := send(t, fk, call{body: batch(track("1", "u", "E"))})
				if r.err == nil {
					t.Fatalf("got %+v, want an error", r)
				}
				// Over a socket the error is net/http's.
				if _, isTransport := fk.client.Transport.(*Transport); isTransport {
					tt.transportErr(t, r.err)
				}
				mustStatus(t, send(t, fk, call{body: batch(track("2", "u", "E"))}), 200)
				reqs := fk.Requests()
				if len(reqs) != 2 || reqs[0].Status != 0 || reqs[0].Accepted || reqs[0].Canceled || !reqs[1].Accepted {
					t.Errorf("requests %+v", reqs)
				}
				if got := fk.Messages(); len(got) != 1 || got[0].MessageID != "2" {
					t.Errorf("messages %v", got)
				}
			})
		})
	}
}

// TestHoldTokens: each value sent on a Hold channel releases one held
// request, in the order they wait; closing it releases the rest.
func TestHoldTokens(t *testing.T) {
	forEachFake(t, func(t *testing.T, fk fake) {
		tokens := make(chan struct{})
		fk.SetDefault(Response{Hold: tokens})
		const n = 3
		answered := make(chan result, n)
		for i := range n {
			go func() { answered <- send(t, fk, call{body: batch(track(fmt.Sprint(i), "u", "E"))}) }()
		}
		for i := range n - 1 {
			select {
			case tokens <- struct{}{}:
			case <-time.After(10 * time.Second):
				t.Fatalf("token %d: no request held", i+1)
			}
			mustStatus(t, <-answered, 200)
			if got := len(fk.Requests()); got != i+1 {
				t.Fatalf("%d requests answered after %d tokens", got, i+1)
			}
		}
		select {
		case r := <-answered:
			t.Fatalf("a request answered without a token: %+v", r)
		case <-time.After(50 * time.Millisecond):
		}
		close(tokens)
		mustStatus(t, <-answered, 200)
		if got := len(fk.Messages()); got != n {
			t.Errorf("%d messages accepted, want %d", got, n)
		}
	})
}

// TestRequestURL: each request records the URL it was sent to, the
// server's own on a Server (TestTransportIgnoresHost checks another host
// through a Transport).
func TestRequestURL(t *testing.T) {
	forEachFake(t, func(t *testing.T, fk fake) {
		mustStatus(t, send(t, fk, call{body: batch(track("1", "u", "E"))}), 200)
		reqs := fk.Requests()
		if len(reqs) != 1 || reqs[0].URL != fk.url+"/batch" {
			t.Errorf("URL %q, want %q", reqs[0].URL, fk.url+"/batch")
		}
	})
}
