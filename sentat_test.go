package analytics_test

import (
	"sync/atomic"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// steppingClock returns a WithClock function whose every call is a minute
// after the previous one, so that two readings never agree.
func steppingClock() func() time.Time {
	var n atomic.Int64
	return func() time.Time { return fixedTime.Add(time.Duration(n.Add(1)) * time.Minute) }
}

// TestSentAtIsTheTimeOfEachAttempt: a batch answered 500 and then 200 is
// sent twice; the second attempt carries a later sentAt (the API corrects
// clock skew with it, so a stale one would move every event by the retry
// wait), while its messages, ids included, are byte for byte those of the
// first. The same holds for a gzipped batch, whose time is rewritten
// without compressing the batch again, and for the halves of a batch the
// API refused as invalid.
func TestSentAtIsTheTimeOfEachAttempt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		gzip   bool
		first  analyticstest.Response
		nextOf func(first analyticstest.Request, later []analyticstest.Request) [][]analyticstest.Message
	}{
		{"retried", false, analyticstest.Response{Status: 500}, retriedMessages},
		{"retried gzip", true, analyticstest.Response{Status: 503}, retriedMessages},
		{"bisected", false, analyticstest.Response{Status: 400, Body: `{"error":"bad"}`}, bisectedMessages},
		{"bisected gzip", true, analyticstest.Response{Status: 400, Body: `{"error":"bad"}`}, bisectedMessages},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := analyticstest.NewServer(t, analyticstest.WithViolationsAllowed())
			srv.Script(tc.first)
			c := newTestClient(t, srv.URL, fastRetries(
				analytics.WithClock(steppingClock()),
				analytics.WithGzip(tc.gzip))...)
			for _, u := range []string{"u1", "u2", "u3", "u4"} {
				require.NoError(t, c.Enqueue(track(u)))
			}
			require.NoError(t, c.Flush(bounded(t)))

			reqs := srv.Requests()
			require.GreaterOrEqual(t, len(reqs), 2)
			require.Len(t, reqs[0].Messages, 4)
			assert.Equal(t, tc.gzip, reqs[0].Gzip)
			for i, r := range reqs[1:] {
				assert.True(t, r.SentAt.After(reqs[i].SentAt),
					"attempt %d sent at %v, attempt %d at %v", i+2, r.SentAt, i+1, reqs[i].SentAt)
			}
			later := tc.nextOf(reqs[0], reqs[1:])
			for _, msgs := range later {
				for j, m := range msgs {
					assert.Equal(t, string(reqs[0].Messages[j].Raw), string(m.Raw), "message %d", j)
				}
			}
			assert.Len(t, srv.Messages(), 4)
		})
	}
}

// retriedMessages: the one retry sends the batch whole.
func retriedMessages(_ analyticstest.Request, later []analyticstest.Request) [][]analyticstest.Message {
	if len(later) != 1 {
		return nil
	}
	return [][]analyticstest.Message{later[0].Messages}
}

// bisectedMessages: the two halves, in order, make up the batch.
func bisectedMessages(_ analyticstest.Request, later []analyticstest.Request) [][]analyticstest.Message {
	if len(later) != 2 {
		return nil
	}
	return [][]analyticstest.Message{append(later[0].Messages, later[1].Messages...)}
}
