// Package transport sends request bodies to the API through
// go-retryablehttp with this library's retry policy.
package transport

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Policy is the retry policy.
type Policy struct {
	// MaxAttempts is the number of attempts, the first included.
	MaxAttempts int
	// WaitMin and WaitMax bound the exponential backoff.
	WaitMin, WaitMax time.Duration
	// MaxRetryAfter caps a Retry-After wait.
	MaxRetryAfter time.Duration
}

// Retryable reports whether the client retries a response with this status:
// 408, 429 and every 5xx but 501.
func Retryable(status int) bool {
	switch {
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		return true
	case status == http.StatusNotImplemented:
		return false
	case status >= 500 && status <= 599:
		return true
	}
	return false
}

// CheckRetry decides whether to retry: network errors that may pass (as
// retryablehttp's default policy judges them: not a bad certificate, scheme
// or redirect loop) and retryable statuses. It never retries once ctx has
// ended.
func CheckRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if err == nil && resp != nil && resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		// Delivered, even if ctx ended as the answer came: reporting it
		// lost would make a caller send it again.
		return false, nil
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	return Retryable(resp.StatusCode), nil
}

// ParseRetryAfter reads a Retry-After header value: delay-seconds or an
// HTTP-date, relative to now. It reports false for a missing or malformed
// value. A date in the past means no wait.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		if strings.TrimLeft(v, "0123456789") != "" {
			// Not all digits; ParseInt would report a long one as
			// out of range rather than malformed.
			return 0, false
		}
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return time.Duration(1<<63 - 1), true
			}
			return 0, false
		}
		if secs > int64((1<<63-1)/time.Second) {
			return time.Duration(1<<63 - 1), true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// Backoff returns the wait before attempt number attempt+1 (attempt counts
// from 0): the Retry-After of a retryable answer, capped at MaxRetryAfter,
// or else a random wait in [w/2, w] with w = WaitMin·2^attempt capped at
// WaitMax.
func (p Policy) Backoff(_, _ time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && Retryable(resp.StatusCode) {
		if d, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return min(d, p.MaxRetryAfter)
		}
	}
	w := p.WaitMax
	// WaitMin<<attempt < WaitMax, tested without shifting WaitMin, which
	// can overflow and wrap around to a short wait.
	if attempt < 63 && p.WaitMin < p.WaitMax>>attempt {
		w = p.WaitMin << attempt
	}
	half := w / 2
	return half + rand.N(w-half+1)
}

// outlastsDeadline reports whether the Retry-After of resp, as capped by the
// policy, would end after ctx's deadline.
func (p Policy) outlastsDeadline(ctx context.Context, resp *http.Response) bool {
	deadline, ok := ctx.Deadline()
	if !ok || resp == nil {
		return false
	}
	now := time.Now()
	d, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), now)
	return ok && now.Add(min(d, p.MaxRetryAfter)).After(deadline)
}

// Sender sends request bodies through go-retryablehttp under a Policy. It
// keeps nothing of a request between calls: it is safe for concurrent use,
// and what observes a call's attempts is passed to that call (Hooks).
type Sender struct {
	hc *http.Client
	p  Policy
}

// NewSender returns a Sender that sends with hc under the policy.
func NewSender(hc *http.Client, p Policy) *Sender { return &Sender{hc: hc, p: p} }

// Hooks observe the attempts of one call to Sender.Do. Either may be nil.
// They are called on the goroutine that called Do, before it returns.
type Hooks struct {
	// Attempt is called before every attempt, counting from 0.
	Attempt func(attempt int)
	// Retry is called when failed attempt number attempt will be tried
	// again after wait; status is 0 when no answer came, and err then
	// says why.
	Retry func(attempt int, wait time.Duration, status int, err error)
}

// call is the state of one call to Do: its policy, its hooks and the
// error of its last attempt, which go-retryablehttp hands to CheckRetry
// but not to Backoff.
type call struct {
	p       Policy
	hooks   Hooks
	lastErr error
}

func (c *call) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	c.lastErr = err
	retry, cerr := CheckRetry(ctx, resp, err)
	if retry && err == nil && c.p.outlastsDeadline(ctx, resp) {
		// Waiting as asked would only run into the deadline: give up
		// now, with the API's answer as the reason.
		return false, nil
	}
	return retry, cerr
}

func (c *call) backoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	wait := c.p.Backoff(min, max, attempt, resp)
	if c.hooks.Retry != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		c.hooks.Retry(attempt, wait, status, c.lastErr)
	}
	return wait
}

func (c *call) attempt(_ retryablehttp.Logger, _ *http.Request, attempt int) {
	if c.hooks.Attempt != nil {
		c.hooks.Attempt(attempt)
	}
}

// Do sends body, which the caller holds (Body.Hold), to url with the given
// headers, retrying under the policy, and returns the final status and the
// start of the body of a non-2xx answer. A non-nil error means no answer
// came (network failure, timeout or ctx ended). hooks observe the
// attempts. Every reader of body that the request opens holds a reference
// of its own until net/http closes it, which may be after Do returns; the
// caller releases its own reference when Do returns.
func (s *Sender) Do(ctx context.Context, url string, header http.Header, body *Body, hooks Hooks) (status int, excerpt string, err error) {
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, url, retryablehttp.ReaderFunc(body.open))
	if err != nil {
		return 0, "", err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	c := &call{p: s.p, hooks: hooks}
	rc := &retryablehttp.Client{
		HTTPClient:     s.hc,
		RetryWaitMin:   s.p.WaitMin,
		RetryWaitMax:   s.p.WaitMax,
		RetryMax:       s.p.MaxAttempts - 1,
		ErrorHandler:   retryablehttp.PassthroughErrorHandler,
		CheckRetry:     c.checkRetry,
		Backoff:        c.backoff,
		RequestLogHook: c.attempt,
	}
	resp, err := rc.Do(req)
	if err != nil {
		if resp != nil {
			drain(resp)
		}
		return 0, "", err
	}
	defer drain(resp)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// More than the 512 bytes an APIError keeps, so that the caller
		// can redact a secret the API echoed before cutting it short.
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		excerpt = strings.ToValidUTF8(strings.TrimSpace(string(b)), "\uFFFD")
	}
	return resp.StatusCode, excerpt, nil
}

// drain reads a little of the body so the connection can be reused, then
// closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}
