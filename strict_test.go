package analytics_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// This file tests strict mode and poison isolation: one invalid call never
// sinks a batch of good ones.

// TestStrictModeHeader: every request carries X-Strict-Mode: 1 by default,
// and none does with WithStrictMode(false).
func TestStrictModeHeader(t *testing.T) {
	t.Parallel()
	for _, strict := range []bool{true, false} {
		t.Run(fmt.Sprint(strict), func(t *testing.T) {
			srv := analyticstest.NewServer(t)
			opts := []analytics.Option{analytics.WithBatchSize(2)}
			if !strict {
				opts = append(opts, analytics.WithStrictMode(false))
			}
			c := newTestClient(t, srv.URL, fastRetries(opts...)...)
			for i := range 5 {
				require.NoError(t, c.Enqueue(track(fmt.Sprint(i))))
			}
			require.NoError(t, c.Flush(bounded(t)))
			reqs := srv.Requests()
			require.Len(t, reqs, 3)
			for _, r := range reqs {
				if strict {
					assert.Equal(t, "1", r.Header.Get("X-Strict-Mode"), "request %d", r.Index)
				} else {
					assert.Empty(t, r.Header.Values("X-Strict-Mode"), "request %d", r.Index)
				}
			}
		})
	}
}

// invalidIDs makes the fake refuse the messages with these ids, as the API
// refuses calls it finds invalid.
func invalidIDs(ids ...string) analyticstest.Option {
	bad := map[string]bool{}
	for _, id := range ids {
		bad[id] = true
	}
	return analyticstest.WithMessageRule(func(m analyticstest.Message) error {
		if bad[m.MessageID] {
			return errors.New("refused by the test")
		}
		return nil
	})
}

// TestPoisonIsolation: 300 messages in 3 batches of 100, of which 3 are
// invalid: in strict mode the batches holding them are bisected, 297
// messages are delivered, exactly the 3 invalid ones are reported lost (as
// *APIError 400 with the API's excerpt), each half carries byte-identical
// message JSON, and no batch of n costs more than 2n-1 requests.
func TestPoisonIsolation(t *testing.T) {
	t.Parallel()
	bad := []string{"m017", "m150", "m299"}
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey), analyticstest.WithViolationsAllowed(), invalidIDs(bad...))
	res := &results{}
	c := newTestClient(t, srv.URL, fastRetries(analytics.WithCallback(res.add), analytics.WithBatchSize(100))...)
	for i := range 300 {
		require.NoError(t, c.Enqueue(track(fmt.Sprintf("m%03d", i))))
	}
	err := c.Flush(bounded(t))
	de := isDeliveryError(err)
	require.NotNil(t, de, "%v", err)
	assert.Equal(t, int64(3), de.Undelivered)

	delivered := acceptedIDs(srv)
	assert.Len(t, delivered, 297)
	for _, id := range bad {
		assert.Zero(t, delivered[id], "invalid message %s delivered", id)
	}
	for id, n := range delivered {
		assert.Equal(t, 1, n, "message %s delivered %d times", id, n)
	}

	lost := map[string]error{}
	for _, r := range res.get() {
		if r.Err != nil {
			lost[r.MessageID] = r.Err
		}
	}
	require.Len(t, lost, 3)
	for _, id := range bad {
		var apiErr *analytics.APIError
		require.ErrorAs(t, lost[id], &apiErr, "message %s", id)
		assert.Equal(t, 400, apiErr.StatusCode)
		assert.Contains(t, apiErr.Body, "refused by the test")
	}

	// Requests per batch (a batch is known by its first message's
	// hundred), and byte-identical JSON for every message in every
	// request that carried it.
	perBatch := map[byte]int{}
	raw := map[string]string{}
	for _, r := range srv.Requests() {
		require.NotEmpty(t, r.Messages)
		perBatch[r.Messages[0].MessageID[1]]++
		for _, m := range r.Messages {
			if prev, ok := raw[m.MessageID]; ok {
				assert.Equal(t, prev, string(m.Raw), "message %s changed between requests", m.MessageID)
			}
			raw[m.MessageID] = string(m.Raw)
		}
	}
	require.Len(t, perBatch, 3)
	for b, n := range perBatch {
		assert.LessOrEqual(t, n, 2*100-1, "batch %c", b)
		// One bad message in 100 costs one path down the tree: the
		// full batch and two halves at each of 7 levels.
		assert.LessOrEqual(t, n, 1+2*7, "batch %c", b)
	}

	st := c.Stats()
	assert.Equal(t, int64(297), st.Delivered)
	assert.Equal(t, int64(3), st.FailedStatus)
	assert.Equal(t, int64(len(srv.Requests())), st.Requests)
	assert.Equal(t, st.Requests-3, st.BisectedRequests, "every request but the 3 full batches carried a half")
	statsAddUp(t, st)
	require.NoError(t, c.Close(), "the losses were reported by Flush already")
}

// TestPermissiveMode: with WithStrictMode(false) the fake, like the API,
// answers 200 to a batch holding an invalid call and records the
// violation; the client can only count it delivered.
func TestPermissiveMode(t *testing.T) {
	t.Parallel()
	srv := analyticstest.NewServer(t, analyticstest.WithViolationsAllowed(), invalidIDs("p1"))
	c := newTestClient(t, srv.URL, fastRetries(analytics.WithStrictMode(false))...)
	for i := range 3 {
		require.NoError(t, c.Enqueue(track(fmt.Sprintf("p%d", i))))
	}
	require.NoError(t, c.Flush(bounded(t)), "a 200 means only received")
	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, 200, reqs[0].Status)
	require.Len(t, srv.Violations(), 1)
	v := srv.Violations()[0]
	assert.Equal(t, analyticstest.ViolationInvalidMessage, v.Kind)
	assert.Equal(t, 1, v.Message)
	assert.Equal(t, int64(3), c.Stats().Delivered)
}

// TestAuthFailureNotBisected: a 401 (a wrong key) fails the whole batch
// without bisecting it, and is logged once at Error with a hint about the
// key and its region, however many batches fail after it.
func TestAuthFailureNotBisected(t *testing.T) {
	t.Parallel()
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey("another-key"))
	logs := &logCapture{}
	res := &results{}
	c := newTestClient(t, srv.URL, fastRetries(analytics.WithCallback(res.add), analytics.WithLogger(logs.Logger()), analytics.WithBatchSize(10))...)
	for round := range 3 {
		for i := range 10 {
			require.NoError(t, c.Enqueue(track(fmt.Sprintf("a%d-%d", round, i))))
		}
		err := c.Flush(bounded(t))
		de := isDeliveryError(err)
		require.NotNil(t, de, "%v", err)
		assert.Equal(t, int64(10), de.Undelivered)
		var apiErr *analytics.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, 401, apiErr.StatusCode)
	}
	assert.Len(t, srv.Requests(), 3, "one request per batch: a 401 is not bisected")
	st := c.Stats()
	assert.Zero(t, st.BisectedRequests)
	assert.Equal(t, int64(30), st.FailedStatus)

	var errorLines []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=ERROR") {
			errorLines = append(errorLines, line)
		}
	}
	require.Len(t, errorLines, 1, "logs:\n%s", logs.String())
	assert.Contains(t, errorLines[0], "API key")
	assert.Contains(t, errorLines[0], "region")
	assert.Contains(t, errorLines[0], "status=401")
	assert.NotContains(t, logs.String(), testKey)
}

// TestPoisonIsolationWithRetries: a half that meets a retried answer (503)
// is retried under the batch's policy, not bisected or given up: of 4
// messages with 1 invalid, 3 are delivered, and the retry is counted as a
// retry, not as a half.
func TestPoisonIsolationWithRetries(t *testing.T) {
	t.Parallel()
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey), analyticstest.WithViolationsAllowed(), invalidIDs("r2"))
	// Strict refusals come before the script: its first answer goes to
	// the first half, [r0 r1].
	srv.Script(analyticstest.Response{Status: 503})
	res := &results{}
	c := newTestClient(t, srv.URL, fastRetries(analytics.WithCallback(res.add), analytics.WithBatchSize(4))...)
	for i := range 4 {
		require.NoError(t, c.Enqueue(track(fmt.Sprintf("r%d", i))))
	}
	de := isDeliveryError(c.Flush(bounded(t)))
	require.NotNil(t, de)
	assert.Equal(t, int64(1), de.Undelivered)
	var apiErr *analytics.APIError
	require.ErrorAs(t, de, &apiErr)
	assert.Equal(t, 400, apiErr.StatusCode)

	delivered := acceptedIDs(srv)
	assert.Equal(t, map[string]int{"r0": 1, "r1": 1, "r3": 1}, delivered)
	for _, r := range res.get() {
		assert.Equal(t, r.MessageID == "r2", r.Err != nil, "message %s: %v", r.MessageID, r.Err)
	}
	st := c.Stats()
	// [r0 r1 r2 r3] 400; [r0 r1] 503, retried 200; [r2 r3] 400; [r2] 400; [r3] 200.
	assert.Equal(t, int64(6), st.Requests)
	assert.Equal(t, int64(1), st.Retries)
	assert.Equal(t, int64(4), st.BisectedRequests)
	assert.Equal(t, int64(3), st.Delivered)
	assert.Equal(t, int64(1), st.FailedStatus)
	statsAddUp(t, st)
}
