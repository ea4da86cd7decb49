package analytics

import (
	"errors"
	"net/http"
)

// The outcome rules: what an answer of the API means for the messages of
// its request (judge), and what a batch's errors mean for the counters,
// the log and the WithCallback function (tally, final). They are pure
// functions of their arguments, tested without HTTP (outcome_test.go);
// the sender (send.go) and report (report.go) apply them. The spool's own
// rule, which messages it sends again, is in spool.go (refusedForGood).

// verdict is what one answer of the API means for the messages of its
// request.
type verdict int

const (
	// accepted: a 2xx; the messages are delivered.
	accepted verdict = iota
	// bisect: the API refused the content of a request of several
	// messages (400, 413 or 422); each half is sent on its own, so that
	// only the invalid messages are lost.
	bisect
	// refused: any other status that is not a success, the last answer of
	// a retryable status included; each message fails with an *APIError.
	refused
	// refusedKey: a 401 or 403, which is about the key, not the
	// messages; refused, and logged once at Error with a hint.
	refusedKey
	// unanswered: no answer came (network error, timeout, context
	// ended); each message fails with the error.
	unanswered
)

// judge returns what the final answer to a request of n messages means:
// status is the answer's, unless err says that none came.
func judge(status int, err error, n int) verdict {
	switch {
	case err != nil:
		return unanswered
	case status >= 200 && status <= 299:
		return accepted
	case n > 1 && splittable(status):
		return bisect
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return refusedKey
	}
	return refused
}

// splittable reports whether an answer with this status refuses the
// content of a request, so that its halves may fare better.
func splittable(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// outcome is a batch's result, classified for the counters and the log.
type outcome struct {
	lost                            int64 // messages that will not be delivered
	status, retries, aborted, spool int64 // of which refused, given up, abandoned, lost by the spool
	requeued                        int64 // messages not delivered yet, that the spool sends again
	parked                          int64 // messages refused for the key, that the spool sends again later
	last                            error // the cause of the last of those
	log                             logLine
}

// logLine is the line report logs for a batch.
type logLine int

const (
	logNothing    logLine = iota // every message delivered
	logRequeued                  // none lost, some to be sent again by the spool: Warn
	logKeyRefused                // all lost were refused for the key: Debug, as the sender logged the first at Error
	logLost                      // messages lost: Error
)

// tally classifies the outcome of a batch from each message's error (errs
// nil: all delivered); aborted is the cause Shutdown canceled delivery
// with, if it has. A message is
//
//   - delivered if its error is nil;
//   - requeued or parked, not lost, if the spool sends it again (a
//     *requeuedError; see final);
//   - lost by the spool (FailedSpool) if its error matches ErrSpoolLost;
//   - refused (FailedStatus) if it is an *APIError of a status that is
//     not retried;
//   - abandoned (FailedShutdown) if it wraps aborted;
//   - given up (FailedRetries) otherwise: retries ran out, a network
//     error that is not retried, or a failed write to WithOutput's
//     writer.
func tally(errs []error, aborted error) outcome {
	var o outcome
	auth := false
	for _, err := range errs {
		if err == nil {
			continue
		}
		o.last = err
		if rq, again := err.(*requeuedError); again {
			if rq.parked {
				o.parked++
			} else {
				o.requeued++
			}
			continue
		}
		o.lost++
		var apiErr *APIError
		switch {
		case errors.Is(err, ErrSpoolLost):
			o.spool++
		case errors.As(err, &apiErr) && !apiErr.Retryable:
			o.status++
			auth = auth || apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden
		case aborted != nil && errors.Is(err, aborted):
			o.aborted++
		default:
			o.retries++
		}
	}
	switch {
	case o.lost+o.requeued+o.parked == 0:
		o.log = logNothing
	case o.lost == 0:
		o.log = logRequeued
	case auth && o.lost == o.status:
		o.log = logKeyRefused
	default:
		o.log = logLost
	}
	return o
}

// final reports whether err (nil: delivered) is a message's final outcome,
// which the WithCallback function gets: every outcome but a message the
// spool sends again.
func final(err error) bool {
	_, again := err.(*requeuedError)
	return !again
}
