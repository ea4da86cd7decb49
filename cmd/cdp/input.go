package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
)

// An input is one file named on the command line, or stdin ("-").
type input struct {
	name string // as given, for messages and the bad file
	open func() (io.ReadCloser, error)
	size int64 // bytes, or -1 when unknown (stdin, a pipe)
}

// openInputs checks that every input can be read before anything is sent,
// so that a typo is a setup error, not a run that stops half-way.
func openInputs(e *env, names []string) ([]input, error) {
	var inputs []input
	stdin := false
	for _, name := range names {
		if name == "-" {
			if stdin {
				return nil, fmt.Errorf("stdin (-) is named twice")
			}
			stdin = true
			r := e.stdin
			inputs = append(inputs, input{name: "-", size: -1, open: func() (io.ReadCloser, error) { return io.NopCloser(r), nil }})
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		fi, err := f.Stat()
		f.Close()
		if err != nil {
			return nil, err
		}
		if fi.IsDir() {
			return nil, fmt.Errorf("%s is a directory", name)
		}
		size := fi.Size()
		if !fi.Mode().IsRegular() {
			size = -1
		}
		path := name
		inputs = append(inputs, input{name: filepath.Clean(name), size: size, open: func() (io.ReadCloser, error) { return os.Open(path) }})
	}
	return inputs, nil
}

// The magic numbers that open a compressed input.
var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// decompressed returns the text of an input read from r: r itself, or
// what r holds gunzipped or un-zstd-ed when it starts with the magic
// number of gzip or zstd (whatever its name, and from stdin too). counted
// counts the bytes read from r, compressed, for progress.
func decompressed(r io.Reader, counted *atomic.Int64) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(countingReader{r, counted}, 256<<10)
	head, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case bytes.HasPrefix(head, zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

// countingReader counts the bytes read through it, for progress.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
