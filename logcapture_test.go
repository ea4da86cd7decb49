package analytics

import (
	"bytes"
	"log/slog"
	"sync"
)

// LogCapture records what a logger writes, for tests that check what is
// logged (and that the key never is): the client's goroutines write it,
// the test reads it. The package's external tests use it too (logCapture
// in suite_test.go).
type LogCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogCapture) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written so far.
func (l *LogCapture) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Logger returns a logger that writes to l at every level.
func (l *LogCapture) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
