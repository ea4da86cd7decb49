package analytics

import (
	"fmt"
	"io"
)

// WithOutput makes the client deliver to w instead of the API: every
// message is written as one line of JSON, exactly the bytes the API would
// get for it in a batch, followed by a newline. The lines are what
// `cdp import` reads, so a file written here can be sent later:
//
//	cdp import --endpoint … events.ndjson
//
// It is what a service uses in development, in CI, or on a host with no
// route to the API. Everything else is as usual: Enqueue validates,
// transforms and encodes; messages are queued and batched; Stats counts
// them (Delivered once written, Failed if a write fails; Requests, Retries
// and BytesSent stay zero, as nothing goes over HTTP); the WithCallback
// function gets every outcome; Flush returns once everything enqueued
// before it is written; Close writes the rest. With WithOutput, New
// accepts an empty API key, and the options about HTTP (endpoint, region,
// retries, gzip, strict mode) have no effect. A nil w discards the lines:
// messages are validated and counted, and go nowhere.
//
// w is written by one goroutine of the client's, one batch at a time, with
// one Write call per batch holding whole lines: never concurrently, so w
// need not be safe for concurrent use, unless something else writes to it
// too. A Write that fails, writes short or panics fails the messages whose
// lines it did not write whole (counted in Stats.FailedRetries and reported by
// Flush, the callback and the log, with the error wrapped); the lines
// before them count as delivered. Wrap a file in a bufio.Writer only if
// Flush and Close need not mean "written": the client does not flush it.
func WithOutput(w io.Writer) Option {
	return func(c *config) error {
		if w == nil {
			w = io.Discard
		}
		c.output = w
		return nil
	}
}

// startOutput starts the goroutine that writes batches to the WithOutput
// writer instead of the senders (startSenders): it takes batches from the
// batcher until the channel is closed, writes each and reports its
// outcome. It owns its buffer and is the only caller of the writer. The
// returned function waits for it to return.
func (c *Client) startOutput() (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		var buf []byte
		for bt := range c.b.out {
			if c.settledUnsent(bt) {
				continue
			}
			buf = c.writeBatch(buf[:0], bt)
			c.report(bt)
			if cap(buf) > maxPooledBody {
				buf = nil
			}
		}
	}()
	return func() { <-done }
}

// writeBatch writes bt's messages to the output, one line each, in one
// Write, and records which were not written whole. It returns buf, which
// it used to build the lines.
func (c *Client) writeBatch(buf []byte, bt *batch) []byte {
	ends := make([]int, len(bt.items)) // where each line ends in buf
	for i := range bt.items {
		buf = append(buf, bt.items[i].data...)
		buf = append(buf, '\n')
		ends[i] = len(buf)
	}
	n, err := c.write(buf)
	if err == nil && n < len(buf) {
		err = io.ErrShortWrite
	}
	if err == nil {
		return buf
	}
	err = fmt.Errorf("analytics: writing to the output (WithOutput): %w", err)
	for i, end := range ends {
		if end > n {
			bt.fail(i, len(bt.items), err)
			break
		}
	}
	return buf
}

// write writes buf to the output. A panic in the writer's Write is an
// error, not the end of the program: the batch fails, the client goes on.
func (c *Client) write(buf []byte) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			n, err = 0, fmt.Errorf("Write panicked: %v", r)
		}
	}()
	return c.cfg.output.Write(buf)
}
