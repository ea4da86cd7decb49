package analytics_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/cdpkit/analytics-go/internal/spool/faultfs"
)

// pausingHandler is a slog.Handler that holds the goroutine logging a
// record whose message contains match, once armed, until resume is
// closed; paused is closed when it does. It lets a test act between two
// steps of a call that logs in between.
type pausingHandler struct {
	match          string
	armed          chan struct{} // closed to arm it
	paused, resume chan struct{}
}

func (h *pausingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *pausingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *pausingHandler) WithGroup(string) slog.Handler            { return h }
func (h *pausingHandler) Handle(_ context.Context, r slog.Record) error {
	if !strings.Contains(r.Message, h.match) {
		return nil
	}
	select {
	case <-h.armed:
	default:
		return nil
	}
	close(h.paused)
	<-h.resume
	return nil
}

// TestSpoolEnqueueContextWakesOnRoom: EnqueueContext at the spool's cap
// waits for room, and takes the space freed between its failed append and
// its wait. Before the fix it took the channel that signals room only
// after the append failed: space freed in between (here, every message
// delivered) was missed, and it waited for its context with the spool
// empty, forever with context.Background().
func TestSpoolEnqueueContextWakesOnRoom(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := &pausingHandler{match: "spool full", armed: make(chan struct{}), paused: make(chan struct{}), resume: make(chan struct{})}
		tr := analyticstest.NewTransport(t, analyticstest.WithAPIKey(spoolKey))
		hold := make(chan struct{})
		tr.SetDefault(analyticstest.Response{Hold: hold})
		const capBytes = 1 << 20
		c, err := analytics.New(spoolKey, analytics.WithHTTPClient(tr.Client()), analytics.WithEndpoint(tr.URL),
			analytics.WithLogger(slog.New(h)), analytics.WithSpool("/spool"), analytics.WithSpoolFS(faultfs.New(1).Mount()),
			analytics.WithSpoolSync(0), analytics.WithSpoolMaxBytes(capBytes), analytics.WithFlushInterval(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_ = c.Shutdown(ctx)
		}()
		msg := func(id string, pad int) analytics.Message {
			return analytics.Track{UserID: "u", Event: "Filled", MessageID: id, Properties: analytics.Properties{"pad": strings.Repeat("x", pad)}}
		}
		// Fill the spool to within a small message of its cap, without a
		// refusal (the warning is logged at the first refusal).
		var step int64
		for i := 0; ; i++ {
			before := c.Stats().SpoolBytes
			if before+3*max(step, 2000) > capBytes {
				break
			}
			if err := c.Enqueue(msg(fmt.Sprint("f-", i), 1000)); err != nil {
				t.Fatalf("Enqueue %d below the cap: %v", i, err)
			}
			step = c.Stats().SpoolBytes - before
		}
		close(h.armed)
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			done <- c.EnqueueContext(ctx, msg("big", 20_000))
		}()
		<-h.paused // its append was refused; it has not begun to wait
		tr.SetDefault(analyticstest.Response{})
		close(hold) // everything is delivered: the spool empties
		if err := flushWithin(t, c, 10*time.Second); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		if st := c.Stats(); st.SpoolBytes != 0 {
			t.Fatalf("SpoolBytes %d after everything was delivered", st.SpoolBytes)
		}
		close(h.resume)
		start := time.Now()
		if err := <-done; err != nil {
			t.Errorf("EnqueueContext, the spool empty: %v after %v", err, time.Since(start))
		}
	})
}
