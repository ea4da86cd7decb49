package analytics

import "fmt"

// WatchStats takes Stats snapshots from stats back to back, in a goroutine
// of its own, until stop is closed, and sends on the returned channel the
// first thing wrong with one, or nil: a counter that went backwards, a
// gauge below zero, or a snapshot of a client without a spool that does
// not add up (Enqueued == Delivered + Failed + Queued + InFlight, and
// Failed is the sum of its reasons). It is for the tests that check that
// Stats is exact at every moment, not only when the client is idle.
func WatchStats(stats func() Stats, stop <-chan struct{}) <-chan error {
	watcher := make(chan error, 1)
	go func() {
		var prev Stats
		for {
			st := stats()
			if err := statsWentWrong(prev, st); err != nil {
				watcher <- err
				return
			}
			prev = st
			select {
			case <-stop:
				watcher <- nil
				return
			default:
			}
		}
	}()
	return watcher
}

// statsWentWrong returns what is wrong with st, taken after prev.
func statsWentWrong(prev, st Stats) error {
	for _, c := range []struct {
		name      string
		old, next int64
	}{
		{"Enqueued", prev.Enqueued, st.Enqueued}, {"Delivered", prev.Delivered, st.Delivered},
		{"Failed", prev.Failed, st.Failed}, {"FailedStatus", prev.FailedStatus, st.FailedStatus},
		{"FailedRetries", prev.FailedRetries, st.FailedRetries}, {"FailedShutdown", prev.FailedShutdown, st.FailedShutdown},
		{"DroppedQueueFull", prev.DroppedQueueFull, st.DroppedQueueFull},
		{"Batches", prev.Batches, st.Batches}, {"Requests", prev.Requests, st.Requests},
		{"Retries", prev.Retries, st.Retries}, {"BytesSent", prev.BytesSent, st.BytesSent},
	} {
		if c.next < c.old {
			return fmt.Errorf("%s went from %d to %d", c.name, c.old, c.next)
		}
	}
	if st.Queued < 0 || st.InFlight < 0 || st.QueuedBytes < 0 {
		return fmt.Errorf("negative gauge: %+v", st)
	}
	if st.Enqueued != st.Delivered+st.Failed+st.Queued+st.InFlight ||
		st.Failed != st.FailedStatus+st.FailedRetries+st.FailedShutdown+st.FailedSpool {
		return fmt.Errorf("snapshot does not add up while busy: %+v", st)
	}
	return nil
}
