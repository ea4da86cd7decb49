package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

// newClient returns a real client that sends to a fake Data Pipelines API,
// and the fake. Both are closed when the test ends; a request that breaks
// the API's rules (a message over 32 KB, say) fails the test.
func newClient(t *testing.T, opts ...analytics.Option) (*analytics.Client, *analyticstest.Server) {
	t.Helper()
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey("test-key"))
	client, err := analytics.New("test-key", append([]analytics.Option{analytics.WithEndpoint(srv.URL)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() }) // runs before the server's Close
	return client, srv
}

// flush waits until everything enqueued so far has reached the fake.
func flush(t *testing.T, client *analytics.Client) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return client.Flush(ctx)
}

func TestSignUp(t *testing.T) {
	client, srv := newClient(t)
	s := &Signups{
		Analytics: client,
		NewID:     func() string { return "u-1" },
		Now:       func() time.Time { return time.Unix(1767225600, 0) },
	}

	id, err := s.SignUp(" ada@example.com ", "pro")
	if err != nil || id != "u-1" {
		t.Fatalf("SignUp = %q, %v", id, err)
	}
	if err := flush(t, client); err != nil {
		t.Fatal(err)
	}

	msgs := srv.ByUser("u-1")
	if len(msgs) != 2 {
		t.Fatalf("got %v, want an identify and a track", msgs)
	}
	if m := msgs[0]; m.Type != analyticstest.TypeIdentify ||
		m.Traits["email"] != "ada@example.com" || m.Traits["plan"] != "pro" || m.Traits["created_at"] != 1767225600.0 {
		t.Errorf("identify: %v traits %v", m, m.Traits)
	}
	// Or read messages back as the structs they were sent as, and compare
	// them whole. Numbers in maps come back as float64, as from JSON.
	tracks, err := analyticstest.MessagesAs[analytics.Track](srv.Recorder)
	if err != nil || len(tracks) != 1 {
		t.Fatalf("tracks %+v, %v", tracks, err)
	}
	want := analytics.Track{UserID: "u-1", Event: "Signed Up", Properties: analytics.Properties{"plan": "pro", "method": "email"}}
	got := tracks[0]
	got.MessageID, got.Timestamp = "", time.Time{} // filled in by the client
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Signed Up: %+v, want %+v", got, want)
	}
}

// TestSignUpTransport runs the same flow through the fake as an
// http.RoundTripper: no socket at all.
func TestSignUpTransport(t *testing.T) {
	tr := analyticstest.NewTransport(t)
	client, err := analytics.New("test-key", analytics.WithEndpoint(tr.URL), analytics.WithHTTPClient(tr.Client()))
	if err != nil {
		t.Fatal(err)
	}
	s := &Signups{Analytics: client, NewID: func() string { return "u-2" }}
	if _, err := s.SignUp("grace@example.com", ""); err != nil {
		t.Fatal(err)
	}
	// Close delivers everything; no Flush needed when the test is done
	// with the client.
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	got := tr.ByEvent("Signed Up")
	if len(got) != 1 || got[0].Properties["plan"] != "free" {
		t.Errorf("Signed Up events: %v", got)
	}
}

// TestBadEmailSendsNothing checks that a refused sign-up tells Customer.io
// nothing.
func TestBadEmailSendsNothing(t *testing.T) {
	client, srv := newClient(t)
	s := &Signups{Analytics: client, NewID: func() string { return "u-3" }}
	if _, err := s.SignUp("not-an-address", "pro"); !errors.Is(err, ErrBadEmail) {
		t.Fatalf("SignUp error %v, want ErrBadEmail", err)
	}
	if err := flush(t, client); err != nil {
		t.Fatal(err)
	}
	if reqs := srv.Requests(); len(reqs) != 0 {
		t.Errorf("sent %d requests, want none", len(reqs))
	}
}

// TestSignUpWhileAPIIsDown scripts the fake: the API fails twice, then
// recovers. The sign-up itself never waits on the API; the client retries
// in the background and delivers each message once.
func TestSignUpWhileAPIIsDown(t *testing.T) {
	client, srv := newClient(t,
		analytics.WithRetry(analytics.RetryPolicy{WaitMin: time.Millisecond, WaitMax: 5 * time.Millisecond}),
		analytics.WithFlushInterval(10*time.Millisecond),    // send without a Flush
		analytics.WithLogger(slog.New(slog.DiscardHandler)), // the retries are expected
	)
	srv.Script(analyticstest.Response{Status: 503}, analyticstest.Response{Status: 500})
	s := &Signups{Analytics: client, NewID: func() string { return "u-4" }}
	if _, err := s.SignUp("ada@example.com", "pro"); err != nil {
		t.Fatal(err)
	}

	// WaitForMessages is the other way to wait, for when the code under
	// test owns the client and you cannot call Flush. The client must then
	// send on its own: hence the short flush interval above.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msgs, err := srv.WaitForMessages(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || len(srv.Requests()) != 3 {
		t.Errorf("%d messages in %d requests, want 2 in 3", len(msgs), len(srv.Requests()))
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if st := client.Stats(); st.Retries != 2 || st.Delivered != 2 {
		t.Errorf("stats %+v, want 2 retries and 2 delivered", st)
	}
}

// TestRun runs the command itself, offline.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, ""); err != nil {
		t.Fatal(err)
	}
	want := "identify user=user-1\ntrack \"Signed Up\" user=user-1\n"
	if out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
}
