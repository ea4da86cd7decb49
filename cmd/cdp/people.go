package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// peopleAction is what delete-people, suppress and unsuppress do to each
// person.
type peopleAction struct {
	verb  string // for the confirmation: "delete"
	event string // the event sent
}

// Each action names the person by Email when it looks like an email and by
// UserID otherwise; the library sends an Email-only person as userId, where
// Customer.io reads a person from (an email-shaped userId is looked up as
// an email), and also as properties.email.
var peopleActions = map[string]peopleAction{
	"delete-people": {"delete", "User Deleted"},
	"suppress":      {"suppress", "User Suppressed"},
	"unsuppress":    {"unsuppress", "User Unsuppressed"},
}

func isEmail(s string) bool { return strings.Contains(s, "@") }

// peopleColumns are the header names a people file's column of people may
// have, for a CSV file read without --column.
var peopleColumns = []string{"id", "userId", "user_id", "email"}

func runPeople(ctx context.Context, e *env, name string, args []string) int {
	action := peopleActions[name]
	var (
		f      sendFlags
		column string
		yes    bool
	)
	fs := flag.NewFlagSet("cdp "+name, flag.ContinueOnError)
	f.register(fs)
	fs.StringVar(&column, "column", "", "read the files as CSV with a header row, taking each person from this `column`")
	fs.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: cdp %s [flags] FILE... (or - for stdin, with --yes)

Sends a %q event for every person in the files: one user id or email per line,
or one per row of a CSV file. A file is read as CSV when its name ends in .csv,
when its first line looks like a header (it holds a comma or a quote, or is
one of id, userId, user_id, email), or with --column; without --column, the
column is the header's only one named id, userId, user_id or email. An
identifier holding a comma, a quote or a space inside is refused. An email is
sent as the userId, where Customer.io reads it. Asks for confirmation, showing
the count, unless --yes is given; --dry-run shows the first people it would
send.

Flags:
`, name, action.event)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), "\n"+exitStatuses)
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
	// cols[i] is the column of people of input i, once its header is
	// read; -1 for a list of one identifier per line.
	cols := make([]int, len(inputs))
	told := make([]bool, len(inputs))
	job := &batchJob{command: name, flags: &f, inputs: inputs}
	job.newSplitter = func(i int, r io.Reader) (splitter, error) {
		br := bufio.NewReaderSize(r, 64<<10)
		if column == "" && !hasCSVName(inputs[i].name) && !looksLikeHeader(firstLine(br)) {
			cols[i] = -1
			return newLineSplitter(br), nil
		}
		sp, err := newCSVSplitter(br)
		if err != nil {
			return nil, err
		}
		col, err := peopleColumn(sp.header, column)
		if err != nil {
			return nil, err
		}
		cols[i] = col
		if column == "" && !told[i] && !f.conn.json {
			told[i] = true
			fmt.Fprintf(e.stderr, "cdp: %s is CSV: taking each person from its column %q (--column names another)\n", inputs[i].name, sp.header[col])
		}
		return sp, nil
	}
	job.newDecoder = func() recordDecoder { return &peopleDecoder{command: name, cols: cols} }
	if !yes && !f.dryRun {
		job.confirm = func(ck *checkpoint) (bool, int) {
			return confirm(e, action, job, ck)
		}
	}
	if f.dryRun {
		job.preview = func(w io.Writer) { previewPeople(w, action, job) }
	}
	return runBatch(ctx, e, job)
}

// hasCSVName reports whether name is a CSV file's, compressed or not.
func hasCSVName(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".csv") || strings.HasSuffix(n, ".csv.gz") || strings.HasSuffix(n, ".csv.zst")
}

// firstLine returns the first line of br without reading it.
func firstLine(br *bufio.Reader) []byte {
	head, _ := br.Peek(4 << 10)
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	return bytes.TrimSpace(bytes.TrimPrefix(head, []byte("\ufeff")))
}

// looksLikeHeader reports whether the first line of a people file is a
// CSV header: it holds a comma or a quote (which no identifier holds), or
// it is one of the names of peopleColumns.
func looksLikeHeader(line []byte) bool {
	if bytes.ContainsAny(line, `,"`) {
		return true
	}
	for _, c := range peopleColumns {
		if strings.EqualFold(string(line), c) {
			return true
		}
	}
	return false
}

// peopleColumn returns the index of the column of people in header: the
// one named column, or without it the only one named as in peopleColumns.
func peopleColumn(header []string, column string) (int, error) {
	list := strings.Join(header, ",")
	if column != "" {
		if i := indexOf(header, column); i >= 0 {
			return i, nil
		}
		return 0, fmt.Errorf("--column: no column %q in the header %s", column, list)
	}
	found := -1
	for i, h := range header {
		for _, c := range peopleColumns {
			if strings.EqualFold(h, c) {
				if found >= 0 {
					return 0, fmt.Errorf("looks like CSV with the header %s, in which both %q and %q could name the people: choose with --column", list, header[found], h)
				}
				found = i
			}
		}
	}
	if found < 0 {
		return 0, fmt.Errorf("looks like CSV with the header %s, and no column is named id, userId, user_id or email: name the column of people with --column", list)
	}
	return found, nil
}

// peopleDecoder makes each record one person's action.
type peopleDecoder struct {
	command string
	cols    []int
}

func (d *peopleDecoder) decode(ch *chunk, i int, f *msgFields) (bool, error) {
	rec := &ch.recs[i]
	var value string
	switch {
	case rec.tooLong:
		return false, errLineTooLong
	case rec.err != nil:
		return false, rec.err
	case d.cols[ch.input] < 0:
		value = strings.TrimSpace(string(ch.text(i)))
		if value == "" {
			return true, nil
		}
	default:
		if allEmpty(rec.row) {
			return true, nil
		}
		if c := d.cols[ch.input]; c < len(rec.row) {
			value = strings.TrimSpace(rec.row[c])
		}
	}
	if err := checkIdentifier(value); err != nil {
		return false, err
	}
	*f = msgFields{typ: d.command}
	if isEmail(value) {
		f.email = value
	} else {
		f.userID = value
	}
	return false, nil
}

func (d *peopleDecoder) idParts(*chunk, int) ([][]byte, string) { return nil, "" }

// checkIdentifier refuses what cannot be one person's id or email: a
// comma, a quote or a space inside is a line of CSV, or two people.
func checkIdentifier(v string) error {
	switch {
	case v == "":
		return errors.New("no identifier: the column is empty")
	case strings.ContainsAny(v, `,"`):
		return fmt.Errorf("identifier %q holds a comma or a quote: is the file CSV? Name its column of people with --column", v)
	case strings.IndexFunc(v, unicode.IsSpace) >= 0:
		return fmt.Errorf("identifier %q holds a space: one person per line", v)
	}
	return nil
}

// eachRecord reads input i of job from the checkpoint ck (nil: from the
// start), calling fn with each record until it returns false.
func eachRecord(job *batchJob, i int, ck *checkpoint, fn func(ch *chunk, k int) bool) error {
	return withSplitter(job, i, func(sp splitter) error {
		if ck != nil && i == ck.File && ck.Line > 0 {
			if err := sp.skip(ck.Line); err != nil {
				return err
			}
		}
		for {
			ch := &chunk{input: i}
			err := sp.fill(ch)
			for k := range ch.recs {
				if !fn(ch, k) {
					return nil
				}
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
		}
	})
}

// previewPeople writes the first people a dry run would send.
func previewPeople(w io.Writer, action peopleAction, job *batchJob) {
	const first = 5
	dec := job.newDecoder()
	var shown []string
	for i, in := range job.inputs {
		if in.name == "-" || len(shown) == first {
			break
		}
		_ = eachRecord(job, i, nil, func(ch *chunk, k int) bool {
			var f msgFields
			if blank, err := dec.decode(ch, k, &f); !blank && err == nil {
				shown = append(shown, fmt.Sprintf("%q", f.userID+f.email))
			}
			return len(shown) < first
		})
	}
	if len(shown) > 0 {
		fmt.Fprintf(w, "cdp: the first people it would %s: %s\n", action.verb, strings.Join(shown, ", "))
	}
}

// confirm counts the people the run would send, asks on stderr, and reads
// the answer from stdin.
func confirm(e *env, action peopleAction, job *batchJob, ck *checkpoint) (bool, int) {
	var n int64
	dec := job.newDecoder()
	for i, in := range job.inputs {
		if in.name == "-" {
			return false, usageError(e, "the people are read from stdin, so the answer cannot be: add --yes")
		}
		if ck != nil && i < ck.File {
			continue
		}
		err := eachRecord(job, i, ck, func(ch *chunk, k int) bool {
			var f msgFields
			if blank, _ := dec.decode(ch, k, &f); !blank {
				n++
			}
			return true
		})
		if err != nil {
			return false, usageError(e, "%s: %v", in.name, err)
		}
	}
	fmt.Fprintf(e.stderr, "cdp: %s %s (%q events)? Type yes to go on: ", action.verb, people(n), action.event)
	answer, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, usageError(e, "reading the answer: %v", err)
	}
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "yes" && a != "y" {
		fmt.Fprintln(e.stderr, "cdp: declined: nothing was sent")
		return false, exitDeclined
	}
	return true, exitOK
}

// people returns "1 person" or "n people".
func people(n int64) string {
	if n == 1 {
		return "1 person"
	}
	return fmt.Sprintf("%d people", n)
}
