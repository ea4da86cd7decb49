package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"

	analytics "github.com/cdpkit/analytics-go"
)

// spoolUsage is the help of cdp spool.
const spoolUsage = `Usage: cdp spool [--json] DIR

Prints what the durable spool in DIR holds (see analytics.WithSpool): the
messages waiting to be sent, by type; the size of its files; when the
oldest was written; damaged regions and files set aside. It sends nothing
and changes nothing, and needs no API key. It reads the files without
taking the spool's lock, so it works while a client owns the directory:
it then sees them as they are at that moment.

Exit status:
  0  the spool was read, and holds no damage
  1  the spool was read, and holds damaged regions, unreadable files or
     records this version cannot read (listed)
  2  the directory cannot be read (the error says why)

Flags:
`

// spoolReport is what cdp spool --json prints.
type spoolReport struct {
	Dir        string         `json:"dir"`
	Messages   int            `json:"messages"`
	Types      map[string]int `json:"types"`
	Bytes      int64          `json:"bytes"`
	Segments   int            `json:"segments"`
	Oldest     *time.Time     `json:"oldest,omitempty"`
	OldestAge  float64        `json:"oldestAgeSeconds,omitempty"`
	Torn       int64          `json:"tornBytes"`
	Damaged    []spoolRegion  `json:"damaged"`
	SetAside   []string       `json:"setAside"`
	Unreadable []string       `json:"unreadable"`
	Unparsable int            `json:"unparsable"`
}

type spoolRegion struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"`
	Bytes  int64  `json:"bytes"`
}

func runSpool(_ context.Context, e *env, _ string, args []string) int {
	var asJSON bool
	fset := flag.NewFlagSet("cdp spool", flag.ContinueOnError)
	fset.BoolVar(&asJSON, "json", false, "print one JSON object")
	fset.Usage = func() {
		fmt.Fprint(fset.Output(), spoolUsage)
		fset.PrintDefaults()
	}
	rest, status, ok := parseFlags(fset, e, args)
	if !ok {
		return status
	}
	if len(rest) != 1 {
		return usageError(e, "spool takes one directory; run \"cdp spool --help\"")
	}
	dir := rest[0]
	info, err := analytics.InspectSpool(dir)
	if err != nil {
		why := err.Error()
		switch {
		case errors.Is(err, fs.ErrNotExist):
			why = "no such directory"
		case errors.Is(err, fs.ErrPermission):
			why = "permission denied (run as the user the service runs as)"
		}
		fmt.Fprintf(e.stderr, "cdp: spool %s: %s\n", dir, why)
		return exitUsage
	}
	now := e.clock()()
	r := spoolReport{Dir: dir, Messages: info.Messages, Types: info.Types, Bytes: info.Bytes, Segments: info.Segments,
		Torn: info.Torn, SetAside: nonNil(info.SetAside), Unreadable: nonNil(info.Unreadable), Unparsable: info.Unparsable,
		Damaged: []spoolRegion{}}
	if !info.Oldest.IsZero() {
		oldest := info.Oldest.UTC()
		r.Oldest = &oldest
		r.OldestAge = now.Sub(oldest).Seconds()
	}
	for _, d := range info.Damaged {
		r.Damaged = append(r.Damaged, spoolRegion{File: d.File, Offset: d.Offset, Bytes: d.Bytes})
	}
	if asJSON {
		_ = json.NewEncoder(e.stdout).Encode(r)
	} else {
		printSpool(e.stdout, r)
	}
	if len(r.Damaged) > 0 || len(r.Unreadable) > 0 || r.Unparsable > 0 {
		return exitSpoolDamaged
	}
	return exitOK
}

// exitSpoolDamaged is cdp spool's exit status for a spool that holds
// damage (see spoolUsage).
const exitSpoolDamaged = 1

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// printSpool prints r for a person.
func printSpool(w io.Writer, r spoolReport) {
	fmt.Fprintf(w, "spool %s (read without its lock)\n", r.Dir)
	types := make([]string, 0, len(r.Types))
	for t := range r.Types {
		types = append(types, t)
	}
	slices.Sort(types)
	var by []string
	for _, t := range types {
		by = append(by, fmt.Sprintf("%s %d", t, r.Types[t]))
	}
	fmt.Fprintf(w, "  messages    %d", r.Messages)
	if len(by) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(by, ", "))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  files       %d bytes in %d segment files\n", r.Bytes, r.Segments)
	if r.Oldest != nil {
		age := time.Duration(r.OldestAge * float64(time.Second)).Round(time.Second)
		fmt.Fprintf(w, "  oldest      written %s (%s ago)\n", r.Oldest.Format(time.RFC3339), age)
	}
	if r.Torn > 0 {
		fmt.Fprintf(w, "  torn tail   %d bytes after the last whole message (a write in progress, or cut short by a crash)\n", r.Torn)
	}
	if len(r.Damaged) == 0 {
		fmt.Fprintln(w, "  damaged     none")
	}
	for _, d := range r.Damaged {
		fmt.Fprintf(w, "  damaged     %s: %d bytes at offset %d (the messages in it are lost)\n", d.File, d.Bytes, d.Offset)
	}
	for _, f := range r.SetAside {
		fmt.Fprintf(w, "  set aside   %s (damaged; its intact messages were sent; delete it when done looking)\n", f)
	}
	for _, f := range r.Unreadable {
		fmt.Fprintf(w, "  unreadable  %s (the disk failed to read it)\n", f)
	}
	if r.Unparsable > 0 {
		fmt.Fprintf(w, "  unparsable  %d records of a format this version cannot read\n", r.Unparsable)
	}
}
