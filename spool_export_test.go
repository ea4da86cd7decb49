package analytics

import "github.com/cdpkit/analytics-go/internal/spool"

// WithSpoolSegmentBytes sets the size of the spool's segment files, so that
// tests can make many segments from few messages.
func WithSpoolSegmentBytes(n int64) Option {
	return func(c *config) error { c.spool.segmentBytes = n; return nil }
}

// WithSpoolFS makes the spool keep its files in fsys, so that tests can
// inject faults and crashes (internal/spool/faultfs).
func WithSpoolFS(fsys spool.FS) Option {
	return func(c *config) error { c.spool.fs = fsys; return nil }
}

// RaceEnabled reports whether the tests run with the race detector, for
// the external tests that run less of themselves then.
const RaceEnabled = raceEnabled

// ErrSpoolUnreadable is the error of a message the spool failed to read
// (an I/O error) and left on disk for the next client.
var ErrSpoolUnreadable = errSpoolUnreadable
