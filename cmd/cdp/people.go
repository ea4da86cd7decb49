package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	analytics "github.com/cdpkit/analytics-go"
)

// peopleAction is what delete-people, suppress and unsuppress do to each
// person.
type peopleAction struct {
	verb  string // for the confirmation: "delete"
	event string // the event sent
	build func(person string) analytics.Message
}

// Each action names the person by Email when it looks like an email and by
// UserID otherwise; the library sends an Email-only person as userId, where
// Customer.io reads a person from (an email-shaped userId is looked up as
// an email), and also as properties.email.
var peopleActions = map[string]peopleAction{
	"delete-people": {"delete", "User Deleted", func(p string) analytics.Message {
		if isEmail(p) {
			return analytics.DeletePerson{Email: p}
		}
		return analytics.DeletePerson{UserID: p}
	}},
	"suppress": {"suppress", "User Suppressed", func(p string) analytics.Message {
		if isEmail(p) {
			return analytics.SuppressPerson{Email: p}
		}
		return analytics.SuppressPerson{UserID: p}
	}},
	"unsuppress": {"unsuppress", "User Unsuppressed", func(p string) analytics.Message {
		if isEmail(p) {
			return analytics.UnsuppressPerson{Email: p}
		}
		return analytics.UnsuppressPerson{UserID: p}
	}},
}

func isEmail(s string) bool { return strings.Contains(s, "@") }

func runPeople(ctx context.Context, e *env, name string, args []string) int {
	action := peopleActions[name]
	var (
		f      sendFlags
		column string
		yes    bool
	)
	fs := flag.NewFlagSet("cdp "+name, flag.ContinueOnError)
	f.register(fs)
	fs.StringVar(&column, "column", "", "read a CSV file with a header row, taking each person from this `column`")
	fs.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: cdp %s [flags] FILE... (or - for stdin, with --yes)

Sends a %q event for every person in the files: one user id or email per line,
or, with --column, one per row of a CSV file. An email is sent as the userId,
where Customer.io reads it. Asks for confirmation, showing the count, unless
--yes is given.

Flags:
`, name, action.event)
		fs.PrintDefaults()
	}
	files, status, ok := parseFlags(fs, e, args)
	if !ok {
		return status
	}
	if len(files) == 0 {
		return usageError(e, "%s: name at least one FILE, or - for stdin", name)
	}
	inputs, err := openInputs(e, files)
	if err != nil {
		return usageError(e, "%v", err)
	}
	makeSource := func(_ int, r io.Reader) (source, error) {
		if column == "" {
			return &listSource{lr: newLineReader(r), build: action.build}, nil
		}
		return newCSVSource(r, func(header []string) (func([]string) (analytics.Message, error), error) {
			for i, h := range header {
				if strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) == column {
					return func(row []string) (analytics.Message, error) {
						if i >= len(row) {
							return action.build(""), nil
						}
						return action.build(strings.TrimSpace(row[i])), nil
					}, nil
				}
			}
			return nil, fmt.Errorf("--column: no column %q in the header %v", column, header)
		})
	}
	job := batchJob{command: name, flags: &f, inputs: inputs, makeSource: makeSource}
	if !yes && !f.dryRun {
		job.confirm = func(ck *checkpoint) (bool, int) {
			return confirm(e, action, inputs, makeSource, ck)
		}
	}
	return runBatch(ctx, e, job)
}

// confirm counts the people the run would send, asks on stderr, and reads
// the answer from stdin.
func confirm(e *env, action peopleAction, inputs []input, makeSource func(int, io.Reader) (source, error), ck *checkpoint) (bool, int) {
	var n int64
	for i, in := range inputs {
		if in.name == "-" {
			return false, usageError(e, "the people are read from stdin, so the answer cannot be: add --yes")
		}
		if ck != nil && i < ck.File {
			continue
		}
		c, err := countRecords(in, i, makeSource, ck)
		if err != nil {
			return false, usageError(e, "%s: %v", in.name, err)
		}
		n += c
	}
	fmt.Fprintf(e.stderr, "cdp: %s %d people (%q events)? Type yes to go on: ", action.verb, n, action.event)
	answer, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, usageError(e, "reading the answer: %v", err)
	}
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "yes" && a != "y" {
		fmt.Fprintln(e.stderr, "cdp: nothing was sent")
		return false, exitFailed
	}
	return true, exitOK
}

// countRecords counts the records of input i that are not blank, after
// the checkpoint.
func countRecords(in input, i int, makeSource func(int, io.Reader) (source, error), ck *checkpoint) (int64, error) {
	rc, err := in.open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	src, err := makeSource(i, rc)
	if err != nil {
		return 0, err
	}
	if ck != nil && i == ck.File && ck.Line > 0 {
		if err := src.skip(ck.Line); err != nil {
			return 0, err
		}
	}
	var n int64
	for {
		rec, err := src.next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if !rec.blank {
			n++
		}
	}
}
