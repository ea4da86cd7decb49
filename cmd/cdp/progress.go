package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// plainInterval is how often a progress line is written when stderr is
// not a terminal.
const plainInterval = 5 * time.Second

// progress shows how a run is going on stderr: a bar on a terminal,
// otherwise a plain line every plainInterval. Its goroutine (started by
// start, ended by stop) only reads the run's counters.
type progress struct {
	w     io.Writer
	bar   bool // draw a bar: w is a terminal
	c     *counts
	total int64 // bytes of input, or -1 when unknown
	verb  string
	tick  <-chan time.Time // nil: a ticker of plainInterval
	now   func() time.Time

	pb    *progressbar.ProgressBar
	start time.Time
	quit  chan struct{}
	done  chan struct{}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (p *progress) begin() {
	if p.now == nil {
		p.now = time.Now
	}
	p.start = p.now()
	p.quit, p.done = make(chan struct{}), make(chan struct{})
	if p.bar {
		p.pb = progressbar.NewOptions64(p.total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetWidth(24),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetPredictTime(p.total > 0),
			progressbar.OptionSpinnerType(14),
		)
	}
	go p.loop()
}

// loop is the progress goroutine.
func (p *progress) loop() {
	defer close(p.done)
	tick := p.tick
	if tick == nil {
		period := plainInterval
		if p.pb != nil {
			period = 200 * time.Millisecond
		}
		t := time.NewTicker(period)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-p.quit:
			if p.pb != nil {
				p.updateBar()
				_ = p.pb.Finish()
			}
			return
		case <-tick:
			if p.pb != nil {
				p.updateBar()
			} else {
				fmt.Fprintln(p.w, p.line())
			}
		}
	}
}

func (p *progress) end() {
	close(p.quit)
	<-p.done
}

func (p *progress) updateBar() {
	p.pb.Describe(fmt.Sprintf("read %d, %s %d, failed %d, invalid %d", p.c.read.Load(), p.verb, p.c.delivered.Load(), p.c.failed.Load(), p.c.invalid.Load()))
	n := p.c.bytes.Load()
	if p.total > 0 {
		// The bar finishes, and clears itself, when it reaches the total;
		// the input is all read before its last messages are delivered,
		// so the bar stays short of the total until end.
		n = min(n, p.total-1)
	}
	_ = p.pb.Set64(n)
}

// line is the plain progress line: counts, rate and, when the size of the
// input is known, the time left.
func (p *progress) line() string {
	elapsed := p.now().Sub(p.start)
	read := p.c.read.Load()
	s := fmt.Sprintf("cdp: read %d, %s %d, failed %d, invalid %d", read, p.verb, p.c.delivered.Load(), p.c.failed.Load(), p.c.invalid.Load())
	if elapsed > 0 {
		s += fmt.Sprintf(", %.0f lines/s", float64(read)/elapsed.Seconds())
	}
	done, skipped := p.c.bytes.Load(), p.c.skipped.Load()
	if p.total > 0 && done > skipped && elapsed > 0 {
		rate := float64(done-skipped) / elapsed.Seconds()
		left := time.Duration(float64(p.total-done) / rate * float64(time.Second))
		s += fmt.Sprintf(", %d%%, ETA %s", done*100/p.total, left.Round(time.Second))
	}
	return s
}
