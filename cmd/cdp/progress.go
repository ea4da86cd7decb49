package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// plainInterval is how often a progress line is written when stderr is
// not a terminal; barInterval, how often the bar is redrawn on one.
const (
	plainInterval = 5 * time.Second
	barInterval   = 200 * time.Millisecond
)

// defaultWidth is the width of a terminal whose size cannot be read.
const defaultWidth = 80

// progress shows how a run is going on stderr: on a terminal, one line
// redrawn in place that always fits the terminal's width (read again at
// each redraw, so a resized window is followed), and at the end a final
// line with the counts, the elapsed time and the rate; otherwise a plain
// line every plainInterval. Its goroutine (started by begin, ended by end)
// only reads the run's counters.
type progress struct {
	w     io.Writer
	bar   bool // draw a bar: w is a terminal
	width func() int
	c     *counts
	// retries returns the requests sent again so far (nil: none shown):
	// a run that waits out an outage or a 429 says so.
	retries func() int64
	total   int64 // bytes of input, or -1 when unknown
	verb    string
	tick    <-chan time.Time // nil: a ticker of plainInterval or barInterval
	now     func() time.Time

	start time.Time
	quit  chan struct{}
	done  chan struct{}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// terminalWidth returns a function that reads the width of w, a terminal,
// or nil if w is not one.
func terminalWidth(w io.Writer) func() int {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func() int {
		cols, _, err := term.GetSize(int(f.Fd()))
		if err != nil || cols <= 0 {
			return defaultWidth
		}
		return cols
	}
}

func (p *progress) begin() {
	if p.now == nil {
		p.now = time.Now
	}
	p.start = p.now()
	p.quit, p.done = make(chan struct{}), make(chan struct{})
	go p.loop()
}

// loop is the progress goroutine.
func (p *progress) loop() {
	defer close(p.done)
	tick := p.tick
	if tick == nil {
		period := plainInterval
		if p.bar {
			period = barInterval
		}
		t := time.NewTicker(period)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-p.quit:
			if p.bar {
				// Clear the bar and leave the final counts, time and rate.
				fmt.Fprintf(p.w, "\r\x1b[K%s\n", fit(p.final(), p.columns()-1))
			}
			return
		case <-tick:
			if p.bar {
				p.draw(p.barLine(p.columns() - 1))
			} else {
				fmt.Fprintln(p.w, p.line())
			}
		}
	}
}

// draw draws the bar line on the terminal, in place.
func (p *progress) draw(line string) {
	if sw, ok := p.w.(*syncWriter); ok {
		sw.drawBar(line)
		return
	}
	fmt.Fprintf(p.w, "\r%s\x1b[K", line)
}

func (p *progress) end() {
	close(p.quit)
	<-p.done
}

func (p *progress) columns() int {
	if p.width == nil {
		return defaultWidth
	}
	if w := p.width(); w > 0 {
		return w
	}
	return defaultWidth
}

// counts returns the counts part of a progress line.
func (p *progress) counts() string {
	s := fmt.Sprintf("read %d, %s %d, failed %d, invalid %d", p.c.read.Load(), p.verb, p.c.delivered.Load(), p.c.failed.Load(), p.c.invalid.Load())
	if p.retries != nil {
		if n := p.retries(); n > 0 {
			s += fmt.Sprintf(", retries %d", n)
		}
	}
	return s
}

// rate returns the lines per second so far and the time left, if the size
// of the input is known.
func (p *progress) rate() (perSecond float64, percent int64, left time.Duration, known bool) {
	elapsed := p.now().Sub(p.start)
	if elapsed <= 0 {
		return 0, 0, 0, false
	}
	perSecond = float64(p.c.read.Load()) / elapsed.Seconds()
	done, skipped := p.c.bytes.Load(), p.c.skipBytes.Load()
	if p.total > 0 && done > skipped {
		byteRate := float64(done-skipped) / elapsed.Seconds()
		left = time.Duration(float64(p.total-done) / byteRate * float64(time.Second))
		return perSecond, min(done*100/p.total, 100), left.Round(time.Second), true
	}
	return perSecond, 0, 0, false
}

// line is the plain progress line: counts, rate and, when the size of the
// input is known, the share read and the time left.
func (p *progress) line() string {
	s := "cdp: " + p.counts()
	perSecond, percent, left, known := p.rate()
	if perSecond > 0 || p.now().After(p.start) {
		s += fmt.Sprintf(", %.0f lines/s", perSecond)
	}
	if known {
		s += fmt.Sprintf(", %d%%, ETA %s", percent, left)
	}
	return s
}

// barLine is the line drawn on a terminal, at most width columns: a bar
// and its percentage when the size of the input is known, the counts, the
// rate and the time left. What does not fit is left out, the bar first
// shrinking, then the time left, the rate, and the bar itself going.
func (p *progress) barLine(width int) string {
	perSecond, percent, left, known := p.rate()
	parts := []string{p.counts(), fmt.Sprintf("%.0f lines/s", perSecond)}
	if known {
		parts = append(parts, "ETA "+left.String())
	}
	for {
		text := strings.Join(parts, ", ")
		if !known {
			return fit(text, width)
		}
		room := width - utf8.RuneCountInString(text) - len(" 100% ") - 2
		if room >= 10 {
			n := min(room, 30)
			full := int(percent) * n / 100
			return fit("["+strings.Repeat("=", full)+strings.Repeat(" ", n-full)+fmt.Sprintf("] %3d%% ", percent)+text, width)
		}
		if len(parts) == 1 {
			return fit(fmt.Sprintf("%3d%% ", percent)+text, width)
		}
		parts = parts[:len(parts)-1]
	}
}

// final is the line left on a terminal at the end.
func (p *progress) final() string {
	elapsed := p.now().Sub(p.start)
	perSecond := 0.0
	if elapsed > 0 {
		perSecond = float64(p.c.read.Load()) / elapsed.Seconds()
	}
	return fmt.Sprintf("cdp: %s in %s, %.0f lines/s", p.counts(), roundElapsed(elapsed), perSecond)
}

// fit cuts s to at most width runes.
func fit(s string, width int) string {
	if width < 1 {
		width = 1
	}
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:width])
}
