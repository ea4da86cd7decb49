package main

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestCompressedInputsAreReadByTheirMagic: gzip and zstd are read by the
// bytes they start with, whatever the file's name, from a file and from
// stdin.
func TestCompressedInputsAreReadByTheirMagic(t *testing.T) {
	srv := newServer(t)
	text := `{"type":"track","userId":"1","event":"E","properties":{"n":1}}` + "\n" + `{"type":"track","userId":"2","event":"E","properties":{"n":2}}` + "\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(text))
	zw.Close()
	var zs bytes.Buffer
	enc, err := zstd.NewWriter(&zs)
	if err != nil {
		t.Fatal(err)
	}
	enc.Write([]byte(text))
	enc.Close()

	for name, data := range map[string][]byte{"events.ndjson": gz.Bytes(), "events.ndjson.zst": zs.Bytes()} {
		file := writeFile(t, name, string(data))
		srv.Reset()
		if r := cdp(t, "", "import", "--quiet", "--endpoint", srv.URL, file); r.code != exitOK || len(srv.Messages()) != 2 {
			t.Errorf("%s: %d messages:\n%s", name, len(srv.Messages()), r)
		}
	}
	srv.Reset()
	if r := cdp(t, gz.String(), "import", "--quiet", "--endpoint", srv.URL, "-"); r.code != exitOK || len(srv.Messages()) != 2 {
		t.Errorf("gzip on stdin: %d messages:\n%s", len(srv.Messages()), r)
	}
	// A CSV export, gzipped, with its name saying so.
	var csvGz bytes.Buffer
	zw = gzip.NewWriter(&csvGz)
	zw.Write([]byte("userId,traits.plan\n7,pro\n"))
	zw.Close()
	srv.Reset()
	file := writeFile(t, "people.csv.gz", csvGz.String())
	if r := cdp(t, "", "import", "--quiet", "--type", "identify", "--endpoint", srv.URL, file); r.code != exitOK || len(srv.Messages()) != 1 || srv.Messages()[0].Traits["plan"] != "pro" {
		t.Errorf("people.csv.gz: %v:\n%s", srv.Messages(), r)
	}
	// A truncated gzip stream stops the run, after what it could read.
	srv.Reset()
	file = writeFile(t, "cut.ndjson", string(gz.Bytes()[:gz.Len()-6]))
	if r := cdp(t, "", "import", "--quiet", "--endpoint", srv.URL, file); r.code != exitStopped || !strings.Contains(r.stderr, "stopped") {
		t.Errorf("a truncated gzip file: want exit 3 and the reason:\n%s", r)
	}
}
