package transport_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/cdpkit/analytics-go/internal/transport"
)

// TestSenderHooksArePerCall: calls that share one Sender at the same time
// each see the attempts and retries of their own request only, since the
// hooks are passed per call.
func TestSenderHooksArePerCall(t *testing.T) {
	const calls, attempts = 8, 3
	script := make([]int, calls*attempts)
	for i := range script {
		script[i] = http.StatusServiceUnavailable
	}
	s := newServer(t, script...)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	snd := transport.NewSender(&http.Client{Transport: tr}, fastPolicy(attempts))

	type seen struct{ attempts, retries []int }
	got := make([]seen, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			hooks := transport.Hooks{
				Attempt: func(n int) { got[i].attempts = append(got[i].attempts, n) },
				Retry:   func(n int, _ time.Duration, _ int, _ error) { got[i].retries = append(got[i].retries, n) },
			}
			status, _, err := doBytes(context.Background(), snd, s.URL, nil, []byte("{}"), hooks)
			if err != nil || status != http.StatusServiceUnavailable {
				t.Errorf("call %d: Do = %d, %v; want the last 503", i, status, err)
			}
		})
	}
	wg.Wait()
	for i, g := range got {
		if !equalInts(g.attempts, []int{0, 1, 2}) || !equalInts(g.retries, []int{0, 1}) {
			t.Errorf("call %d saw attempts %v and retries %v, want [0 1 2] and [0 1]", i, g.attempts, g.retries)
		}
	}
}
