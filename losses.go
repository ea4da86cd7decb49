package analytics

import "sync"

// losses records which batches were lost, by batch number, so that Flush
// and Shutdown can each report the losses among the batches they stand
// for:
//
//   - a Flush with barrier K that began when every Flush finished so far
//     had covered batches up to A reports the losses in (A, K];
//   - Shutdown reports the losses above the barrier covered by the Flush
//     calls finished when it began.
//
// Every loss is so reported by at least one of them (by Shutdown if by no
// Flush), and concurrent callers each learn of the losses they waited for.
// Records no caller can still ask for are dropped.
type losses struct {
	mu      sync.Mutex
	records []lossRecord
	through uint64         // batches up to here were covered by a finished Flush
	active  map[uint64]int // the "since" of each running Flush, counted
}

type lossRecord struct {
	seq uint64
	n   int64
	err error
}

func (l *losses) add(seq uint64, n int64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, lossRecord{seq, n, err})
}

// beginShutdown returns the barrier covered by the Flush calls finished so
// far, where Shutdown's report starts, and keeps the records above it.
func (l *losses) beginShutdown() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.active == nil {
		l.active = make(map[uint64]int)
	}
	l.active[l.through]++ // never released: Shutdown reports last
	return l.through
}

// beginFlush registers a running Flush and returns where its report starts.
func (l *losses) beginFlush() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.active == nil {
		l.active = make(map[uint64]int)
	}
	l.active[l.through]++
	return l.through
}

// endFlush unregisters a Flush that began at since and waited for batches
// up to barrier; if it completed, it returns its report and moves the
// covered barrier.
func (l *losses) endFlush(since, barrier uint64, completed bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.active[since]--; l.active[since] == 0 {
		delete(l.active, since)
	}
	var err error
	if completed {
		err = l.reportLocked(since, barrier)
		l.through = max(l.through, barrier)
	}
	l.pruneLocked()
	return err
}

// report returns a *DeliveryError for the losses in batches (from, to], or
// nil.
func (l *losses) report(from, to uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reportLocked(from, to)
}

func (l *losses) reportLocked(from, to uint64) error {
	var n int64
	var last error
	for _, r := range l.records {
		if r.seq > from && r.seq <= to {
			n += r.n
			last = r.err
		}
	}
	if n == 0 {
		return nil
	}
	return &DeliveryError{Undelivered: n, Err: last}
}

// pruneLocked drops records at or below every barrier a caller can still
// start from: that of each running Flush and of Shutdown, and that of the
// finished Flush calls (a later Flush or Shutdown starts from it or above).
func (l *losses) pruneLocked() {
	floor := l.through
	for since := range l.active {
		floor = min(floor, since)
	}
	kept := l.records[:0]
	for _, r := range l.records {
		if r.seq > floor {
			kept = append(kept, r)
		}
	}
	clear(l.records[len(kept):])
	l.records = kept
}
