package analytics

// WithSpoolSegmentBytes sets the size of the spool's segment files, so that
// tests can make many segments from few messages.
func WithSpoolSegmentBytes(n int64) Option {
	return func(c *config) error { c.spool.segmentBytes = n; return nil }
}
