package analytics

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestJudge: what the final answer to a request means for its messages,
// for every kind of answer, without HTTP.
func TestJudge(t *testing.T) {
	netErr := errors.New("connection refused")
	for _, tc := range []struct {
		status int
		err    error
		n      int
		want   verdict
	}{
		{200, nil, 1, accepted},
		{204, nil, 500, accepted},
		{0, netErr, 1, unanswered},
		{0, context.DeadlineExceeded, 10, unanswered},
		{400, nil, 2, bisect},
		{413, nil, 1000, bisect},
		{422, nil, 3, bisect},
		// One message refused as invalid cannot be halved: it is the
		// invalid one.
		{400, nil, 1, refused},
		{422, nil, 1, refused},
		// The key, not the messages: never halved.
		{401, nil, 1000, refusedKey},
		{403, nil, 1, refusedKey},
		{404, nil, 10, refused},
		{301, nil, 10, refused}, // a redirect is an answer (noRedirects)
		// The last answer of a retried status, once the retries ran out.
		{503, nil, 10, refused},
		{429, nil, 1, refused},
	} {
		if got := judge(tc.status, tc.err, tc.n); got != tc.want {
			t.Errorf("judge(%d, %v, %d messages) = %v, want %v", tc.status, tc.err, tc.n, got, tc.want)
		}
	}
}

// TestTally: each message's error is counted under the one Stats counter
// its outcome belongs to, and the batch gets the log line its outcome
// calls for.
func TestTally(t *testing.T) {
	aborted := context.DeadlineExceeded
	refused := &APIError{StatusCode: 400}
	key := &APIError{StatusCode: 401}
	gaveUp := &APIError{StatusCode: 503, Retryable: true}
	network := fmt.Errorf("analytics: batch request failed: %w", errors.New("connection reset"))
	abandoned := fmt.Errorf("analytics: abandoned when Shutdown's context ended: %w", aborted)
	spoolLost := fmt.Errorf("segment 3: %w", ErrSpoolLost)
	requeued := &requeuedError{err: gaveUp}
	parked := &requeuedError{err: key, parked: true}

	for _, tc := range []struct {
		name    string
		errs    []error
		aborted error
		want    outcome
	}{
		{"all delivered", nil, nil, outcome{log: logNothing}},
		{"delivered, errs allocated", []error{nil, nil}, nil, outcome{log: logNothing}},
		{"refused", []error{nil, refused, refused}, nil,
			outcome{lost: 2, status: 2, last: refused, log: logLost}},
		{"refused for the key", []error{key, key}, nil,
			outcome{lost: 2, status: 2, last: key, log: logKeyRefused}},
		{"the key and something else", []error{key, refused}, nil,
			outcome{lost: 2, status: 2, last: refused, log: logKeyRefused}},
		{"the key and a network error", []error{key, network}, nil,
			outcome{lost: 2, status: 1, retries: 1, last: network, log: logLost}},
		{"given up after retries", []error{gaveUp, network}, nil,
			outcome{lost: 2, retries: 2, last: network, log: logLost}},
		{"abandoned", []error{abandoned, nil}, aborted,
			outcome{lost: 1, aborted: 1, last: abandoned, log: logLost}},
		// Without an abort the same error is a network failure.
		{"a deadline before any abort", []error{abandoned}, nil,
			outcome{lost: 1, retries: 1, last: abandoned, log: logLost}},
		{"lost by the spool", []error{spoolLost, spoolLost, spoolLost}, nil,
			outcome{lost: 3, spool: 3, last: spoolLost, log: logLost}},
		{"sent again by the spool", []error{requeued, parked, nil}, nil,
			outcome{requeued: 1, parked: 1, last: parked, log: logRequeued}},
		{"sent again, and lost", []error{requeued, refused}, nil,
			outcome{lost: 1, status: 1, requeued: 1, last: refused, log: logLost}},
	} {
		got := tally(tc.errs, tc.aborted)
		if got != tc.want {
			t.Errorf("%s: tally = %+v, want %+v", tc.name, got, tc.want)
		}
		if got.lost != got.status+got.retries+got.aborted+got.spool {
			t.Errorf("%s: %d lost, but %d+%d+%d+%d by cause", tc.name, got.lost, got.status, got.retries, got.aborted, got.spool)
		}
	}
}

// TestFinal: the WithCallback function gets every outcome but that of a
// message the spool sends again.
func TestFinal(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, true},
		{&APIError{StatusCode: 400}, true},
		{ErrSpoolLost, true},
		{context.Canceled, true},
		{&requeuedError{err: errors.New("x")}, false},
		{&requeuedError{err: &APIError{StatusCode: 401}, parked: true}, false},
	} {
		if got := final(tc.err); got != tc.want {
			t.Errorf("final(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func (v verdict) String() string {
	return [...]string{"accepted", "bisect", "refused", "refusedKey", "unanswered"}[v]
}
