package benchmarks

import (
	"math/bits"
	"slices"
	"time"
)

// Latency is a histogram of call latencies in nanoseconds: log-linear
// buckets, latencySub to each power of two, so that a percentile read
// from it is within 1/latencySub (1.6 %) of the recorded value, whatever
// its size, and recording is an add to a fixed array (no allocation, no
// sorting). One goroutine records into a Latency; Merge adds another's.
type Latency struct {
	Counts [latencyBuckets]int64
	N      int64
	Max    int64
	Sum    int64 // of every call, for the mean
}

const (
	latencySubBits = 6
	latencySub     = 1 << latencySubBits
	// 64 sub-buckets for each power of two from 2^6 ns to 2^40 ns (18
	// minutes), and the values below 64 ns one to a bucket.
	latencyBuckets = (40 - latencySubBits + 2) * latencySub
)

// latencyBucket returns the bucket of v nanoseconds.
func latencyBucket(v int64) int {
	if v < latencySub {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) - latencySubBits // 1 for 64-127
	i := e*latencySub + int(v>>(e-1)) - latencySub
	return min(i, latencyBuckets-1)
}

// latencyLow returns the smallest value of bucket i.
func latencyLow(i int) int64 {
	if i < latencySub {
		return int64(i)
	}
	e := i / latencySub
	return int64(i%latencySub+latencySub) << (e - 1)
}

// Record adds one call that took d.
func (l *Latency) Record(d time.Duration) {
	v := int64(d)
	l.Counts[latencyBucket(v)]++
	l.N++
	l.Sum += v
	if v > l.Max {
		l.Max = v
	}
}

// Merge adds the calls of o.
func (l *Latency) Merge(o *Latency) {
	for i, c := range o.Counts {
		l.Counts[i] += c
	}
	l.N += o.N
	l.Sum += o.Sum
	l.Max = max(l.Max, o.Max)
}

// Mean returns the mean latency, 0 when nothing was recorded.
func (l *Latency) Mean() time.Duration {
	if l.N == 0 {
		return 0
	}
	return time.Duration(l.Sum / l.N)
}

// Quantile returns the latency under which a share q (0 to 1) of the
// calls fell: the middle of the bucket that holds the call of rank
// ceil(q×N), or Max if that is smaller or the rank is the last; 0 when
// nothing was recorded.
func (l *Latency) Quantile(q float64) time.Duration {
	if l.N == 0 {
		return 0
	}
	rank := max(int64(q*float64(l.N)+0.9999999), 1)
	if rank >= l.N {
		return time.Duration(l.Max)
	}
	var seen int64
	for i, c := range l.Counts {
		seen += c
		if seen >= rank {
			lo, hi := latencyLow(i), latencyLow(i+1)
			return time.Duration(min((lo+hi)/2, l.Max))
		}
	}
	return time.Duration(l.Max)
}

// ClockCost measures what timing one call costs: the median, over n
// tries, of the time between two consecutive time.Now readings (each
// timed call reads the clock twice, so it also pays this). It returns the
// median and the smallest.
func ClockCost(n int) (median, least time.Duration) {
	d := make([]time.Duration, n)
	for i := range d {
		t0 := time.Now()
		d[i] = time.Since(t0)
	}
	slices.Sort(d)
	return d[n/2], d[0]
}
