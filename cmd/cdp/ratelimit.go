package main

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// DefaultRate is the default of --rate, in requests per second: half of
// the API's documented limit of 3,000 requests per 3 seconds, so that a
// back-fill leaves room for the services sending with the same key.
const DefaultRate = 500

// rateLimiter is an http.RoundTripper that spaces the start of requests,
// retries included, at least 1/rate apart. Its lock guards next only; the
// wait happens outside it.
type rateLimiter struct {
	rt       http.RoundTripper
	interval time.Duration

	mu   sync.Mutex
	next time.Time // when the next request may start
}

func newRateLimiter(rt http.RoundTripper, perSecond float64) *rateLimiter {
	return &rateLimiter{rt: rt, interval: time.Duration(float64(time.Second) / perSecond)}
}

func (l *rateLimiter) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := l.wait(req.Context()); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	return l.rt.RoundTrip(req)
}

// wait reserves the next start time and waits for it, or for ctx to end.
func (l *rateLimiter) wait(ctx context.Context) error {
	now := time.Now()
	l.mu.Lock()
	start := l.next
	if start.Before(now) {
		start = now
	}
	l.next = start.Add(l.interval)
	l.mu.Unlock()
	d := start.Sub(now)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
