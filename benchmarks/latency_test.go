package benchmarks

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestLatencyQuantiles: the histogram's percentiles are within its
// resolution (1/64) of the exact ones, from nanoseconds to seconds.
func TestLatencyQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var l Latency
	var exact []int64
	for range 200_000 {
		// Log-uniform from 1 ns to about 4 s.
		v := int64(1) << r.IntN(32)
		v += r.Int64N(v)
		l.Record(time.Duration(v))
		exact = append(exact, v)
	}
	slices.Sort(exact)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999} {
		want := float64(exact[int(q*float64(len(exact)))-1])
		got := float64(l.Quantile(q))
		if got < want*(1-1.0/latencySub) || got > want*(1+1.0/latencySub)+1 {
			t.Errorf("Quantile(%g) = %.0f, want %.0f within 1/%d", q, got, want, latencySub)
		}
	}
	if l.Quantile(1) != time.Duration(exact[len(exact)-1]) || l.N != int64(len(exact)) {
		t.Errorf("Quantile(1) = %v, N = %d; want the max %d and %d", l.Quantile(1), l.N, exact[len(exact)-1], len(exact))
	}
	var m Latency
	m.Merge(&l)
	m.Merge(&l)
	if m.N != 2*l.N || m.Quantile(0.5) != l.Quantile(0.5) {
		t.Errorf("after merging twice: N %d, median %v; want %d, %v", m.N, m.Quantile(0.5), 2*l.N, l.Quantile(0.5))
	}
}

// TestLatencyBuckets: each value falls in the bucket whose bounds hold it.
func TestLatencyBuckets(t *testing.T) {
	for v := int64(0); v < 1<<20; v += 1 + v/100 {
		i := latencyBucket(v)
		if lo, hi := latencyLow(i), latencyLow(i+1); v < lo || v >= hi {
			t.Fatalf("%d in bucket %d of [%d, %d)", v, i, lo, hi)
		}
	}
}

// TestRunTailPaces: a paced run makes its calls at the rate asked, and
// counts refusals apart from the latencies.
func TestRunTailPaces(t *testing.T) {
	calls := 0
	n := 0
	res := RunTail(TailConfig{Producers: 1, Rate: 2000, Calls: 200}, func() error {
		calls++
		n++
		if n%4 == 0 {
			return errLeanFull
		}
		return nil
	})
	if res.Calls != 200 || res.Refused != 50 || res.Latency.N != 150 || calls != 200 {
		t.Fatalf("calls %d, refused %d, recorded %d; want 200, 50, 150", res.Calls, res.Refused, res.Latency.N)
	}
	// 200 calls at 2,000 a second take 100 ms; at least 99.5, since
	// the last call is made at 99.5 ms. No upper bound: a loaded machine
	// may be late.
	if res.Wall < 99*time.Millisecond {
		t.Errorf("200 calls at 2,000/s took %v, want at least 99.5 ms", res.Wall)
	}
}
