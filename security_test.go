package analytics_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// secretForms are the forms in which the API key could leak: as is, and
// as the basic-auth credentials the client sends.
func secretForms(key string) []string {
	return []string{key, base64.StdEncoding.EncodeToString([]byte(key + ":"))}
}

// assertNoSecret fails if text holds the key in any form.
func assertNoSecret(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range secretForms(testKey) {
		assert.False(t, strings.Contains(text, s), "%s holds the API key (as %q):\n%s", where, s, text)
	}
}

// TestAPIKeyNeverLeaksUnderFaults runs the client through failures, retries, drops,
// rejections and an abandoned Shutdown with every log line captured at
// Debug, and every error string and callback result collected: the API
// key appears in none of them.
func TestAPIKeyNeverLeaksUnderFaults(t *testing.T) {
	t.Parallel()
	srv := analyticstest.NewTransport(t)
	srv.Script(analyticstest.Response{Refuse: true}, analyticstest.Response{Refuse: true})
	for range 100 {
		srv.Script(
			analyticstest.Response{Status: 500, Body: `{"error":"internal"}`},
			analyticstest.Response{Status: 429, RetryAfter: "1"},
			analyticstest.Response{CloseConnection: true},
			analyticstest.Response{Status: 401, Body: `{"error":"unauthorized"}`},
			analyticstest.Response{},
			analyticstest.Response{},
		)
	}
	var logs logCapture
	var texts []string
	note := func(err error) {
		if err != nil {
			texts = append(texts, err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		}
	}
	res := &results{}
	c, err := analytics.New(testKey,
		analytics.WithEndpoint(srv.URL),
		analytics.WithLogger(logs.Logger()),
		analytics.WithHTTPClient(srv.Client()),
		analytics.WithBatchSize(3),
		analytics.WithQueueCapacity(20),
		analytics.WithMaxAttempts(3),
		analytics.WithRetryWait(time.Millisecond, 2*time.Millisecond),
		analytics.WithMaxRetryAfter(5*time.Millisecond),
		analytics.WithCallback(res.add),
	)
	require.NoError(t, err)

	for i := range 60 {
		note(c.Enqueue(track(fmt.Sprint("s", i)))) // some overflow the queue
	}
	note(c.Enqueue(analytics.Track{UserID: "u", Event: "Big", Properties: analytics.Properties{"x": strings.Repeat("x", 40_000)}}))
	note(c.Enqueue(analytics.Track{UserID: "u"}))
	note(c.Enqueue(analytics.Track{UserID: "u", Event: "E", Properties: analytics.Properties{"c": make(chan int)}}))
	note(c.Flush(bounded(t)))
	for i := range 9 {
		note(c.Enqueue(track(fmt.Sprint("t", i))))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	note(c.Shutdown(ctx)) // abandons what is left
	note(c.Close())
	note(c.Enqueue(track("late")))
	for _, r := range res.get() {
		note(r.Err)
	}

	st := c.Stats()
	require.Positive(t, st.Retries, "the run retried")
	require.Positive(t, st.Failed, "the run lost messages")
	require.Positive(t, st.DroppedQueueFull, "the run dropped messages")
	out := logs.String()
	for _, level := range []string{"level=DEBUG", "level=WARN", "level=ERROR"} {
		require.Contains(t, out, level, "the run logged at every level")
	}
	assertNoSecret(t, "the log", out)
	assertNoSecret(t, "the errors", strings.Join(texts, "\n"))
	assertNoSecret(t, "Stats", fmt.Sprintf("%+v", st))
}

// TestAPIKeyNotInOptionErrors: an endpoint that carries a secret (the key
// in its user info or query, by mistake) is refused, and the error does
// not repeat the secret.
func TestAPIKeyNotInOptionErrors(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"https://" + testKey + "@cdp.example.com/v1",
		"https://user:" + testKey + "@cdp.example.com/v1",
		"https://cdp.example.com/v1?api_key=" + testKey,
		"https://cdp.example.com/v1#" + testKey,
		"ftp://" + testKey + "@cdp.example.com/v1",
		"ftp://cdp.example.com/v1?key=" + testKey,
		"http://" + testKey + "@cdp.example.com/v1",
		"https://:" + testKey + "@/v1",
		"https://cdp.example.com/%zz?key=" + testKey,
		"https://cdp.example.com:99999999/v1?key=" + testKey,
	} {
		_, err := analytics.New("another-key", analytics.WithEndpoint(u))
		if assert.Error(t, err, u) {
			assertNoSecret(t, "the error for "+u, err.Error())
		}
	}
	_, err := analytics.New(" \t")
	assert.Error(t, err, "a blank key is refused")
}

// TestEndpointPolicy: plain http only to loopback hosts unless
// WithAllowHTTP(true); never credentials, a query or a fragment.
func TestEndpointPolicy(t *testing.T) {
	t.Parallel()
	rows := []struct {
		url       string
		ok        bool // accepted without WithAllowHTTP
		allowHTTP bool // accepted with WithAllowHTTP(true)
	}{
		{"https://cdp.customer.io/v1", true, true},
		{"https://cdp-eu.customer.io", true, true},
		{"http://127.0.0.1:8080/v1", true, true},
		{"http://127.9.9.9/v1", true, true},
		{"http://localhost:1234", true, true},
		{"http://LOCALHOST/v1", true, true},
		{"http://api.localhost/v1", true, true},
		{"http://[::1]:80/v1", true, true},
		{"http://cdp.example.com/v1", false, true},
		{"http://10.0.0.1/v1", false, true},
		{"http://0.0.0.0/v1", false, true},
		{"http://127.0.0.1.nip.io/v1", false, true},
		{"http://localhost.example.com/v1", false, true},
		{"http://[::ffff:10.0.0.1]/v1", false, true},
		{"https://user:pass@cdp.example.com/v1", false, false},
		{"https://user@cdp.example.com/v1", false, false},
		{"http://user:pass@127.0.0.1/v1", false, false},
		{"https://cdp.example.com/v1?x=1", false, false},
		{"https://cdp.example.com/v1?", false, false},
		{"https://cdp.example.com/v1#frag", false, false},
		{"ftp://cdp.example.com/v1", false, false},
		{"cdp.example.com/v1", false, false},
		{"https:///v1", false, false},
		{"", false, false},
	}
	for _, r := range rows {
		c, err := analytics.New(testKey, analytics.WithEndpoint(r.url), analytics.WithLogger(quietLogger()))
		if assert.Equal(t, r.ok, err == nil, "%q: %v", r.url, err) && err == nil {
			require.NoError(t, c.Close())
		}
		// Option order does not matter.
		for _, opts := range [][]analytics.Option{
			{analytics.WithAllowHTTP(true), analytics.WithEndpoint(r.url)},
			{analytics.WithEndpoint(r.url), analytics.WithAllowHTTP(true)},
		} {
			c, err := analytics.New(testKey, append(opts, analytics.WithLogger(quietLogger()))...)
			if assert.Equal(t, r.allowHTTP, err == nil, "%q with WithAllowHTTP(true): %v", r.url, err) && err == nil {
				require.NoError(t, c.Close())
			}
		}
	}
	// WithAllowHTTP(false) after true takes it back.
	_, err := analytics.New(testKey, analytics.WithAllowHTTP(true), analytics.WithEndpoint("http://cdp.example.com"), analytics.WithAllowHTTP(false))
	assert.Error(t, err)
}

// TestLoggerQuietOnHappyPath: a run without failures logs nothing above
// Debug, so a service's logs stay clean.
func TestLoggerQuietOnHappyPath(t *testing.T) {
	t.Parallel()
	srv := analyticstest.NewServer(t)
	var logs logCapture
	h := slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})
	c, err := analytics.New(testKey, analytics.WithEndpoint(srv.URL), analytics.WithLogger(slog.New(h)))
	require.NoError(t, err)
	for i := range 100 {
		require.NoError(t, c.Enqueue(track(fmt.Sprint(i))))
	}
	require.NoError(t, c.Close())
	assert.Empty(t, logs.String())
}

// TestClientStringHidesKey: printing the client with any verb, or logging
// it, does not show the API key or the Authorization value made from it.
func TestClientStringHidesKey(t *testing.T) {
	t.Parallel()
	s := analyticstest.NewServer(t)
	c := newTestClient(t, s.URL, deterministic()...)
	var logs logCapture
	logs.Logger().Info("client", "client", c)
	auth := base64.StdEncoding.EncodeToString([]byte(testKey + ":"))
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), logs.String()} {
		assert.NotContains(t, out, testKey)
		assert.NotContains(t, out, auth)
		assert.Contains(t, out, s.URL)
	}
	var nilClient *analytics.Client
	assert.Equal(t, "analytics.Client(nil)", nilClient.String())
}

// TestAPIKeyNeverLogged: across failures, retries and drops, the API key
// appears in no log line and no error.
func TestAPIKeyNeverLogged(t *testing.T) {
	t.Parallel()
	s := analyticstest.NewServer(t)
	for range 100 {
		s.Script(
			analyticstest.Response{Status: http.StatusServiceUnavailable},
			analyticstest.Response{Status: http.StatusUnauthorized, Body: "unauthorized " + testKey}, // even an API that echoes it
			analyticstest.Response{},
		)
	}
	var logs logCapture
	c, err := analytics.New(testKey, analytics.WithEndpoint(s.URL), analytics.WithLogger(logs.Logger()),
		analytics.WithBatchSize(1), analytics.WithQueueCapacity(2), analytics.WithMaxInFlight(1),
		analytics.WithRetryWait(time.Millisecond, time.Millisecond))
	require.NoError(t, err)
	var errs []error
	for range 20 {
		if err := c.Enqueue(analytics.Track{UserID: "u", Event: "E"}); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, c.Enqueue(analytics.Track{}), c.Flush(bounded(t)), c.Close())
	out := logs.String()
	require.Contains(t, out, "level=WARN", "the run produced retries")
	require.Contains(t, out, "level=ERROR", "the run produced losses")
	assert.NotContains(t, out, testKey)
	for _, err := range errs {
		if err != nil {
			assert.NotContains(t, err.Error(), testKey)
		}
	}
	var apiErr *analytics.APIError
	require.ErrorAs(t, errors.Join(errs...), &apiErr, "the 401's answer is reported")
	assert.Contains(t, apiErr.Body, "[redacted]", "an answer that echoes the key is redacted")
}

// TestRedactionBeforeTruncation: a key the API echoes at the edge of the
// kept excerpt is not left in part.
func TestRedactionBeforeTruncation(t *testing.T) {
	t.Parallel()
	for _, pad := range []int{490, 500, 505, 511} {
		s := analyticstest.NewServer(t)
		s.Script(analyticstest.Response{Status: http.StatusBadRequest, Body: strings.Repeat("a", pad) + " bad key " + testKey + " end"})
		c := newTestClient(t, s.URL, deterministic()...)
		require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "E"}))
		err := c.Flush(bounded(t))
		var apiErr *analytics.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.LessOrEqual(t, len(apiErr.Body), 512)
		for i := 4; i <= len(testKey); i++ {
			assert.NotContains(t, err.Error(), testKey[:i], "pad %d: a prefix of the key leaked", pad)
		}
		require.NoError(t, c.Close())
	}
}
