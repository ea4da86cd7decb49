package analytics_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/cdpkit/analytics-go/internal/spool"
)

// TestSpoolUnreadableRecordFlush: a record the client cannot parse (a
// newer format) is dropped, and Flush still returns once the others are
// delivered instead of waiting for it until its context ends.
func TestSpoolUnreadableRecordFlush(t *testing.T) {
	t.Parallel()
	dir := spoolWithUnreadableRecord(t)
	up := analyticstest.NewServer(t, analyticstest.WithAPIKey(spoolKey))
	c := newSpoolClient(t, up.URL, dir)
	err := flushWithin(t, c, 3*time.Second)
	if n := len(up.Messages()); n != 3 {
		t.Fatalf("delivered %d messages, want 3", n)
	}
	var de *analytics.DeliveryError
	if !errors.As(err, &de) || de.Undelivered != 1 {
		t.Fatalf("Flush: %v, want a *DeliveryError counting the 1 unreadable record (not a wait until its context ended)", err)
	}
	st := c.Stats()
	if st.SpoolPending != 0 {
		t.Errorf("SpoolPending %d, want 0", st.SpoolPending)
	}
	spoolStatsAddUp(t, st)
	// The record is left for a client that reads its format (a newer
	// version, after a downgrade).
	_ = c.Close()
	if info, err := analytics.InspectSpool(dir); err != nil || info.Unparsable != 1 || info.Messages != 1 {
		t.Errorf("after Close the spool holds %+v (%v), want the 1 unparsable record left", info, err)
	}
}

// TestSpoolUnreadableRecordWithOutput: with WithOutput, the placeholder of
// a record the spool cannot read is reported lost, never written as a
// line: the output holds exactly the readable messages.
func TestSpoolUnreadableRecordWithOutput(t *testing.T) {
	t.Parallel()
	dir := spoolWithUnreadableRecord(t)
	var out bytes.Buffer
	c, err := analytics.New("", analytics.WithOutput(&out), analytics.WithSpool(dir), analytics.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	var de *analytics.DeliveryError
	if err := flushWithin(t, c, 10*time.Second); !errors.As(err, &de) || de.Undelivered != 1 || !errors.Is(err, analytics.ErrSpoolLost) {
		t.Fatalf("Flush: %v, want the unreadable record reported lost", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines written, want the 3 readable messages:\n%s", len(lines), out.String())
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, `{"type":"track"`) {
			t.Errorf("line %q is not a message", line)
		}
	}
}

// spoolWithUnreadableRecord returns a spool's directory holding three
// messages and, after them, a record the client cannot parse (a newer
// format).
func spoolWithUnreadableRecord(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	fillSpool(t, dir, 3)
	l, _, err := spool.Open(dir, spool.Options{MaxBytes: 1 << 20, SegmentBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append([]byte{9, 9, 9}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}
