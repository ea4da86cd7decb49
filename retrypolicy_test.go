package analytics_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

// retryRun sends one message to a fake API that always answers 503, with
// opts, and returns the client's Stats once Flush has returned, and how
// long it took on synctest's clock.
func retryRun(t *testing.T, opts ...analytics.Option) (analytics.Stats, time.Duration) {
	t.Helper()
	var st analytics.Stats
	var took time.Duration
	synctest.Test(t, func(t *testing.T) {
		tr := analyticstest.NewTransport(t)
		tr.SetDefault(analyticstest.Response{Status: 503})
		opts = append([]analytics.Option{
			analytics.WithHTTPClient(tr.Client()),
			analytics.WithEndpoint("http://127.0.0.1:1"),
			analytics.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		}, opts...)
		c, err := analytics.New("key", opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Enqueue(analytics.Track{UserID: "u", Event: "Retried"}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var de *analytics.DeliveryError
		if err := c.Flush(context.Background()); !errors.As(err, &de) || de.Undelivered != 1 {
			t.Fatalf("Flush = %v, want a DeliveryError for the message", err)
		}
		took = time.Since(start)
		st = c.Stats()
	})
	return st, took
}

// TestWithRetry: WithRetry sets the retry policy; a zero field leaves what
// the default or an earlier option set, and a later option wins.
func TestWithRetry(t *testing.T) {
	fast := analytics.RetryPolicy{WaitMin: time.Millisecond, WaitMax: time.Millisecond}
	for _, tc := range []struct {
		name         string
		opts         []analytics.Option
		wantRequests int64
	}{
		{"MaxAttempts", []analytics.Option{analytics.WithRetry(analytics.RetryPolicy{MaxAttempts: 3, WaitMin: time.Second, WaitMax: time.Second})}, 3},
		{"no retry", []analytics.Option{analytics.WithRetry(analytics.RetryPolicy{MaxAttempts: 1})}, 1},
		{"the default attempts", []analytics.Option{analytics.WithRetry(fast)}, analytics.DefaultMaxAttempts},
		{"a zero field keeps an earlier option", []analytics.Option{analytics.WithMaxAttempts(5), analytics.WithRetry(fast)}, 5},
		{"a later option wins", []analytics.Option{analytics.WithRetry(analytics.RetryPolicy{MaxAttempts: 4, WaitMin: time.Millisecond, WaitMax: time.Millisecond}), analytics.WithMaxAttempts(2)}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := retryRun(t, tc.opts...)
			if st.Requests != tc.wantRequests || st.Retries != tc.wantRequests-1 || st.FailedRetries != 1 {
				t.Errorf("%d requests, %d retries, %d given up; want %d, %d, 1", st.Requests, st.Retries, st.FailedRetries, tc.wantRequests, tc.wantRequests-1)
			}
		})
	}
}

// TestWithRetryMaxTime: MaxTime bounds a batch's retries, waits included:
// a backoff that would outlast it ends with the batch given up at MaxTime.
func TestWithRetryMaxTime(t *testing.T) {
	st, took := retryRun(t, analytics.WithRetry(analytics.RetryPolicy{
		MaxAttempts: 10, WaitMin: 30 * time.Second, WaitMax: time.Minute, MaxTime: 10 * time.Second}))
	if st.Requests != 1 || st.FailedRetries != 1 {
		t.Errorf("%d requests, %d given up; want 1 and 1", st.Requests, st.FailedRetries)
	}
	if took != 10*time.Second {
		t.Errorf("the batch was given up after %v, want MaxTime, 10s", took)
	}
}

// TestWithRetryRefusesBadPolicies: New refuses a policy out of range, and
// says which option.
func TestWithRetryRefusesBadPolicies(t *testing.T) {
	for _, p := range []analytics.RetryPolicy{
		{MaxAttempts: -1},
		{MaxAttempts: 101},
		{WaitMin: -time.Second},
		{MaxTime: -time.Second},
		{MaxRetryAfter: -time.Second},
		{WaitMin: time.Second, WaitMax: time.Millisecond},
		{WaitMax: time.Millisecond}, // below the default WaitMin
	} {
		_, err := analytics.New("key", analytics.WithRetry(p))
		if err == nil || !strings.Contains(err.Error(), "WithRetry") {
			t.Errorf("WithRetry(%+v): New error %v, want one naming WithRetry", p, err)
		}
	}
}

// TestWithTimestamps: the time of a message without a Timestamp, and the
// sentAt of its request, come from WithTimestamps' function; WithClock, its
// deprecated name, does the same.
func TestWithTimestamps(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for name, opt := range map[string]analytics.Option{
		"WithTimestamps": analytics.WithTimestamps(func() time.Time { return at }),
		"WithClock":      analytics.WithClock(func() time.Time { return at }),
	} {
		tr := analyticstest.NewTransport(t)
		c, err := analytics.New("key", analytics.WithHTTPClient(tr.Client()), analytics.WithEndpoint("http://127.0.0.1:1"), opt)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Enqueue(analytics.Track{UserID: "u", Event: "Timed"}); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		reqs := tr.Requests()
		if len(reqs) != 1 || len(reqs[0].Messages) != 1 {
			t.Fatalf("%s: %d requests, want 1 of 1 message", name, len(reqs))
		}
		if got := reqs[0].Messages[0].Timestamp; !got.Equal(at) {
			t.Errorf("%s: timestamp %v, want %v", name, got, at)
		}
		if got := reqs[0].SentAt; !got.Equal(at) {
			t.Errorf("%s: sentAt %v, want %v", name, got, at)
		}
	}
}
