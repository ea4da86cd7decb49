package analytics

import "sync"

// DropPooledEncoders empties the encoder pool, as a garbage collection
// does (two, since sync.Pool keeps its items for one more cycle), at a
// fraction of the cost: for the tests of what a queued message keeps of
// the encoder that wrote it. It replaces the pool, so nothing else may use
// it meanwhile: call it between Enqueue calls of one goroutine, in a test
// that does not run in parallel.
func DropPooledEncoders() {
	encoderPool = sync.Pool{New: encoderPool.New}
}
