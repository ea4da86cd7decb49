//go:build race

package analytics

// raceEnabled: the race detector is on. Its sync.Pool drops items at
// random, so Enqueue's allocation count is not deterministic then.
const raceEnabled = true
