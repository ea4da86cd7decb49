package main

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

type stampTransport struct {
	mu    sync.Mutex
	times []time.Time
}

func (s *stampTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	s.times = append(s.times, time.Now())
	s.mu.Unlock()
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}

func TestRateLimiterSpacesRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &stampTransport{}
		l := newRateLimiter(st, 10) // one request per 100ms
		start := time.Now()
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 5 {
					req, _ := http.NewRequest("POST", "http://127.0.0.1/v1/batch", nil)
					if _, err := l.RoundTrip(req); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		if len(st.times) != 20 {
			t.Fatalf("%d requests", len(st.times))
		}
		// 20 requests at 10 per second: the last starts 1.9s after the first.
		if got := st.times[19].Sub(start); got != 1900*time.Millisecond {
			t.Errorf("the 20th request started after %v, want 1.9s", got)
		}
		for i := 1; i < 20; i++ {
			if d := st.times[i].Sub(st.times[i-1]); d < 100*time.Millisecond {
				t.Errorf("requests %d and %d %v apart", i-1, i, d)
			}
		}
	})
}

func TestRateLimiterGivesUpWhenTheRequestEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newRateLimiter(&stampTransport{}, 1)
		req, _ := http.NewRequest("POST", "http://127.0.0.1/v1/batch", nil)
		if _, err := l.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if _, err := l.RoundTrip(req.WithContext(ctx)); err != context.DeadlineExceeded {
			t.Errorf("err %v, want the context's", err)
		}
	})
}
