package analyticstest_test

// Tests of the analytics client against the fake: the client's behaviour
// as a user's test would see it, and proof that the two agree on the wire.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

const testKey = "test-key"

var fixedTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// newClient returns a client that sends to srv quickly and quietly, with a
// fixed clock and message ids m1, m2, ...
func newClient(t *testing.T, url string, opts ...analytics.Option) *analytics.Client {
	t.Helper()
	var n atomic.Int64
	base := []analytics.Option{
		analytics.WithEndpoint(url),
		analytics.WithRetry(analytics.RetryPolicy{WaitMin: time.Millisecond, WaitMax: 2 * time.Millisecond}),
		analytics.WithLogger(slog.New(slog.DiscardHandler)),
		analytics.WithTimestamps(func() time.Time { return fixedTime }),
		analytics.WithMessageIDs(func() string { return fmt.Sprintf("m%d", n.Add(1)) }),
	}
	client, err := analytics.New(testKey, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func flush(t *testing.T, client *analytics.Client) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return client.Flush(ctx)
}

func enqueue(t *testing.T, client *analytics.Client, msgs ...analytics.Message) {
	t.Helper()
	for _, m := range msgs {
		if err := client.Enqueue(m); err != nil {
			t.Fatalf("Enqueue(%#v): %v", m, err)
		}
	}
}

// TestClientRetries500 scripts the fake to answer 500, 500, then 200: the
// client delivers the batch on its third attempt, and the fake counts each
// message once.
func TestClientRetries500(t *testing.T) {
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey))
	srv.Script(analyticstest.Response{Status: 500}, analyticstest.Response{Status: 500}, analyticstest.Response{Status: 200})
	client := newClient(t, srv.URL)

	enqueue(t, client,
		analytics.Identify{UserID: "42", Traits: analytics.Traits{"plan": "pro"}},
		analytics.Track{UserID: "42", Event: "Order Completed", Properties: analytics.Properties{"total": 30}},
		analytics.Page{UserID: "42", Name: "Home"},
	)
	if err := flush(t, client); err != nil {
		t.Fatalf("Flush: %v", err)
	}

	reqs := srv.Requests()
	var statuses []int
	for _, r := range reqs {
		statuses = append(statuses, r.Status)
	}
	if fmt.Sprint(statuses) != "[500 500 200]" {
		t.Fatalf("statuses %v, want [500 500 200]", statuses)
	}
	for _, r := range reqs[1:] {
		if string(r.Body) != string(reqs[0].Body) {
			t.Errorf("request %d differs from the first:\n%s\n%s", r.Index, r.Body, reqs[0].Body)
		}
	}
	var ids []string
	for _, m := range srv.Messages() {
		ids = append(ids, m.MessageID)
	}
	if strings.Join(ids, ",") != "m1,m2,m3" {
		t.Errorf("accepted message ids %v, want m1,m2,m3 once each", ids)
	}
	st := client.Stats()
	if st.Retries != 2 || st.Requests != 3 || st.Delivered != 3 || st.Failed != 0 || st.Batches != 1 {
		t.Errorf("stats %+v, want 2 retries, 3 requests, 3 delivered, 1 batch", st)
	}
	if err := client.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestClientGzip sends with WithGzip(true): the fake decodes the bodies,
// finds every message, and the wire size is what Stats counted.
func TestClientGzip(t *testing.T) {
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey))
	client := newClient(t, srv.URL, analytics.WithGzip(true))

	const n = 50
	for i := range n {
		enqueue(t, client, analytics.Track{
			UserID:     fmt.Sprint("user-", i),
			Event:      "Lesson Completed",
			Properties: analytics.Properties{"course": "Intro to Customer.io", "notes": strings.Repeat("well done ", 50)},
		})
	}
	if err := client.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if !r.Gzip || r.Header.Get("Content-Encoding") != "gzip" || !r.Accepted {
		t.Errorf("request gzip %v, Content-Encoding %q, accepted %v", r.Gzip, r.Header.Get("Content-Encoding"), r.Accepted)
	}
	if r.WireSize*5 > r.BodySize {
		t.Errorf("gzip sent %d bytes for a %d-byte body; expected better than 5:1", r.WireSize, r.BodySize)
	}
	if st := client.Stats(); st.BytesSent != int64(r.WireSize) || st.Delivered != n {
		t.Errorf("stats BytesSent %d, Delivered %d; want %d, %d", st.BytesSent, st.Delivered, r.WireSize, n)
	}
	msgs := srv.ByEvent("Lesson Completed")
	if len(msgs) != n || msgs[n-1].UserID != fmt.Sprint("user-", n-1) || msgs[0].Properties["course"] != "Intro to Customer.io" {
		t.Errorf("got %d messages, last %v", len(msgs), msgs[len(msgs)-1])
	}
}

// TestClientStaysUnderLimits enqueues 2 MB of messages just under the
// per-message limit: the client must cut them into requests the fake
// accepts (a violation would fail the test), and Enqueue must refuse a
// message over the limit instead of sending it.
func TestClientStaysUnderLimits(t *testing.T) {
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprint("gzip=", gz), func(t *testing.T) {
			srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey))
			client := newClient(t, srv.URL, analytics.WithGzip(gz))

			const n = 64
			for i := range n {
				enqueue(t, client, analytics.Track{
					UserID:     "42",
					Event:      "Big",
					Properties: analytics.Properties{"i": i, "pad": strings.Repeat("x", analyticstest.MaxMessageBytes-300)},
				})
			}
			err := client.Enqueue(analytics.Track{UserID: "42", Event: "Too Big",
				Properties: analytics.Properties{"pad": strings.Repeat("x", analyticstest.MaxMessageBytes)}})
			if !errors.Is(err, analytics.ErrMessageTooLarge) {
				t.Errorf("Enqueue of an oversize message: %v, want ErrMessageTooLarge", err)
			}
			if err := client.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}

			if vs := srv.Violations(); len(vs) != 0 {
				t.Fatalf("violations: %v", vs)
			}
			reqs := srv.Requests()
			if len(reqs) < n*(analyticstest.MaxMessageBytes-300)/analyticstest.MaxRequestBytes {
				t.Errorf("only %d requests for %d messages", len(reqs), n)
			}
			for _, r := range reqs {
				if r.BodySize > analyticstest.MaxRequestBytes {
					t.Errorf("request %d is %d bytes", r.Index, r.BodySize)
				}
			}
			if got := len(srv.ByEvent("Big")); got != n {
				t.Errorf("%d messages accepted, want %d", got, n)
			}
			if len(srv.ByEvent("Too Big")) != 0 {
				t.Error("the oversize message was sent")
			}
		})
	}
}

// TestClientWrongKey: the fake answers 401 to a key it does not expect;
// the client does not retry and reports every message as not delivered.
func TestClientWrongKey(t *testing.T) {
	tr := analyticstest.NewTransport(t, analyticstest.WithAPIKey("the-right-key"))
	client := newClient(t, tr.URL, analytics.WithHTTPClient(tr.Client()))
	enqueue(t, client, analytics.Track{UserID: "42", Event: "E"}, analytics.Track{UserID: "42", Event: "F"})

	err := client.Close()
	var de *analytics.DeliveryError
	var apiErr *analytics.APIError
	if !errors.As(err, &de) || de.Undelivered != 2 || !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Retryable {
		t.Fatalf("Close: %v, want a DeliveryError of 2 messages caused by a 401", err)
	}
	if reqs := tr.Requests(); len(reqs) != 1 || reqs[0].APIKey != testKey || reqs[0].Status != 401 {
		t.Errorf("requests %+v, want one answered 401", reqs)
	}
	if st := client.Stats(); st.FailedStatus != 2 || st.Retries != 0 {
		t.Errorf("stats %+v, want 2 failed by status, no retries", st)
	}
}

// TestClientWire checks, for each core call, the parts of the wire that
// the fake does not enforce but the client promises: a messageId, a
// timestamp and context.library on every message, and sentAt on the
// batch.
func TestClientWire(t *testing.T) {
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey))
	client := newClient(t, srv.URL)
	enqueue(t, client,
		analytics.Identify{UserID: "42"},
		analytics.Track{AnonymousID: "a-1", Event: "E"},
		analytics.Page{UserID: "42", Name: "Home"},
		analytics.Screen{UserID: "42", Name: "Feed"},
		analytics.Group{UserID: "42", GroupID: "acme"},
		analytics.Alias{UserID: "42", PreviousID: "a-1"},
	)
	if err := flush(t, client); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || !reqs[0].SentAt.Equal(fixedTime) {
		t.Fatalf("requests %v, want one sent at %v", reqs, fixedTime)
	}
	msgs := srv.Messages()
	types := []string{analyticstest.TypeIdentify, analyticstest.TypeTrack, analyticstest.TypePage,
		analyticstest.TypeScreen, analyticstest.TypeGroup, analyticstest.TypeAlias}
	if len(msgs) != len(types) {
		t.Fatalf("got %v", msgs)
	}
	for i, m := range msgs {
		lib, _ := m.Context["library"].(map[string]any)
		if m.Type != types[i] || m.MessageID != fmt.Sprint("m", i+1) || !m.Timestamp.Equal(fixedTime) ||
			lib["name"] != analytics.LibraryName || lib["version"] != analytics.Version {
			t.Errorf("message %d: %s id %q timestamp %v library %v", i, m, m.MessageID, m.Timestamp, lib)
		}
	}
}
