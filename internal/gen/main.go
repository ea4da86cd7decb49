// Command gen writes the typed helpers of package analytics (semantic.go,
// ecommerce.go, video.go, email.go, lifecycle.go, livechat.go, abtest.go),
// the dispatch of every Message type (dispatch.go), the test-only table of
// every Message type (messages_gen_test.go) and the core types of package
// analyticstest (analyticstest/coretypes.go) from the spec catalog in
// internal/catalog and the core types of message.go. go generate runs it in
// the module root, through the directive in generate.go:
//
//	go generate ./...
//
// The work is done by package internal/gen/generator, which the tests of
// package analytics also call to check that the files are up to date.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/cdpkit/analytics-go/internal/catalog"
	"github.com/cdpkit/analytics-go/internal/gen/generator"
)

func main() {
	dir := flag.String("dir", ".", "directory to write the files into (the root of package analytics)")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	cat, err := catalog.Load()
	if err != nil {
		return err
	}
	core, err := generator.CoreMessages(dir)
	if err != nil {
		return err
	}
	files, err := generator.Generate(cat, core)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(dir, name)
		// Leave a file that is already up to date untouched, so its
		// modification time does not change.
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, files[name]) {
			continue
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}
