package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"

	analytics "github.com/cdpkit/analytics-go"
)

// versionInfo is what cdp version prints.
type versionInfo struct {
	Version string `json:"version"` // the command's module version, or "(devel)" for a build from a clone
	Library string `json:"library"` // analytics.Version, the library it is built with
	Go      string `json:"go"`
	Commit  string `json:"commit,omitempty"` // the VCS revision of a build from a clone, when Go recorded it
}

func buildVersion() versionInfo {
	v := versionInfo{Version: "(devel)", Library: analytics.Version, Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v.Commit = s.Value
		}
	}
	return v
}

func runVersion(_ context.Context, e *env, _ string, args []string) int {
	var asJSON bool
	fs := flag.NewFlagSet("cdp version", flag.ContinueOnError)
	fs.BoolVar(&asJSON, "json", false, "print one JSON object")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: cdp version [--json]\n\nPrints the versions of cdp, of the library it is built with, and of Go.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	rest, status, ok := parseFlags(fs, e, args)
	if !ok {
		return status
	}
	if len(rest) > 0 {
		return usageError(e, "version takes no arguments")
	}
	v := buildVersion()
	if asJSON {
		_ = json.NewEncoder(e.stdout).Encode(v)
		return exitOK
	}
	fmt.Fprintf(e.stdout, "cdp %s (github.com/cdpkit/analytics-go %s, %s", v.Version, v.Library, v.Go)
	if v.Commit != "" {
		fmt.Fprintf(e.stdout, ", commit %.12s", v.Commit)
	}
	fmt.Fprintln(e.stdout, ")")
	return exitOK
}
