package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// timeFlag is a flag holding a time: RFC 3339, or a date (UTC midnight).
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(v string) error {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			f.t = t
			return nil
		}
	}
	return fmt.Errorf("%q is not an RFC 3339 time (2026-01-02T15:04:05Z) or a date (2026-01-02)", v)
}

// timeWindow keeps the lines of an import whose time (their timestamp, or
// the time they are sent when they have none) is in [since, until), and
// keeps events (track, page, screen) more recent than skipRecent out.
type timeWindow struct {
	since, until time.Time     // zero: no bound
	skipRecent   time.Duration // 0: none
	now          func() time.Time
}

// keeps reports whether the window keeps the message f, whose time is at.
func (w *timeWindow) keeps(f *msgFields, at time.Time) bool {
	if !w.since.IsZero() && at.Before(w.since) {
		return false
	}
	if !w.until.IsZero() && !at.Before(w.until) {
		return false
	}
	if w.skipRecent > 0 && f.isEvent() && at.After(w.now().Add(-w.skipRecent)) {
		return false
	}
	return true
}

func runImport(ctx context.Context, e *env, name string, args []string) int {
	var (
		f            sendFlags
		format       string
		typ          string
		event        string
		maps         stringList
		unmapped     string
		tsFormat     string
		since, until timeFlag
		skipRecent   time.Duration
		idFromFlag   string
	)
	fs := flag.NewFlagSet("cdp import", flag.ContinueOnError)
	f.register(fs)
	fs.StringVar(&format, "format", "auto", "input `format`: ndjson, csv, or auto (csv for a .csv or .csv.gz file, else ndjson); gzip and zstd are read whatever the format")
	fs.StringVar(&typ, "type", "", "CSV: the message `type` of every row: identify, track, page, screen, group or alias")
	fs.StringVar(&event, "event", "", "CSV: the event `name` of every track row (an \"event\" column overrides it)")
	fs.Var(&maps, "map", "CSV: `COLUMN=FIELD` sends the column as FIELD, one of userId, anonymousId, email, event, name, groupId, objectTypeId, previousId, messageId, timestamp, properties.KEY, traits.KEY, or - to leave it out (repeatable)")
	fs.StringVar(&unmapped, "unmapped", "", "CSV: send the columns that are not fields (nor --map-ped) as properties or traits (`properties`, traits or skip) instead of refusing the file")
	fs.StringVar(&tsFormat, "timestamp-format", "auto", "how timestamps are written: auto (RFC 3339, or Unix seconds or milliseconds), unix, unixms, or a Go `layout` such as \"2006-01-02 15:04:05\" (UTC unless it has a zone)")
	fs.Var(&since, "since", "send only lines whose timestamp is at or after this `time` (RFC 3339 or a date); a line without one counts as sent now")
	fs.Var(&until, "until", "send only lines whose timestamp is before this `time` (RFC 3339 or a date)")
	fs.DurationVar(&skipRecent, "skip-recent", 0, "keep out events (track, page, screen) more recent than this `duration`, such as 72h: Customer.io can trigger campaigns with events less than 72 hours old")
	fs.StringVar(&idFromFlag, "id-from", "", "give each line without a messageId one derived from `line` (its text) or from the fields named, such as userId,event,timestamp or properties.order_id (CSV: columns), so that a re-run sends the same ids and the API can tell copies")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: cdp import [flags] FILE... (or - for stdin)

Sends every line of the files: NDJSON with one message in the API's JSON shape
per line ({"type":"track","userId":"42","event":"Signed Up"}, as WithOutput
writes them), or CSV with a header row naming the fields (see --map). Files
and stdin may be gzip or zstd compressed. Each line is validated by the
library; an invalid line is counted and reported (see --bad), never skipped.

Flags:
`)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), "\n"+exitStatuses)
	}
	files, status, ok := parseFlags(fs, e, args)
	if !ok {
		return status
	}
	if len(files) == 0 {
		return usageError(e, "import: name at least one FILE, or - for stdin")
	}
	switch format {
	case "auto", "ndjson", "csv":
	default:
		return usageError(e, "--format: %q is not ndjson, csv or auto", format)
	}
	switch unmapped {
	case "", "properties", "traits", "skip":
	default:
		return usageError(e, "--unmapped: %q is not properties, traits or skip", unmapped)
	}
	times, err := newTimeParser(tsFormat)
	if err != nil {
		return usageError(e, "%v", err)
	}
	if skipRecent < 0 {
		return usageError(e, "--skip-recent: %v is negative", skipRecent)
	}
	if !since.t.IsZero() && !until.t.IsZero() && !since.t.Before(until.t) {
		return usageError(e, "--since %s is not before --until %s", since.String(), until.String())
	}
	idFrom, err := parseIDFrom(idFromFlag)
	if err != nil {
		return usageError(e, "%v", err)
	}
	inputs, err := openInputs(e, files)
	if err != nil {
		return usageError(e, "%v", err)
	}
	renames := map[string]string{}
	for _, m := range maps {
		col, field, ok := strings.Cut(m, "=")
		if !ok || col == "" || field == "" {
			return usageError(e, "--map: %q is not COLUMN=FIELD", m)
		}
		renames[col] = field
	}
	isCSV := func(i int) bool {
		n := strings.ToLower(inputs[i].name)
		return format == "csv" || format == "auto" && (strings.HasSuffix(n, ".csv") || strings.HasSuffix(n, ".csv.gz") || strings.HasSuffix(n, ".csv.zst"))
	}
	anyCSV := false
	for i := range inputs {
		if isCSV(i) {
			anyCSV = true
			if err := checkCSVType(typ); err != nil {
				return usageError(e, "%s: %v", inputs[i].name, err)
			}
		}
	}
	// The decoders of one worker: one for NDJSON lines, and one CSV plan
	// per CSV input (each has its own header). The plans are made when
	// the headers are read, before any worker starts.
	plans := make([]*csvPlan, len(inputs))
	job := &batchJob{
		command: name,
		flags:   &f,
		inputs:  inputs,
		idFrom:  idFrom,
		newSplitter: func(i int, r io.Reader) (splitter, error) {
			if !isCSV(i) {
				return newLineSplitter(r), nil
			}
			sp, err := newCSVSplitter(r)
			if err != nil {
				return nil, err
			}
			plan, err := newCSVPlan(sp.header, renames, typ, event, unmapped, times, idFrom)
			if err != nil {
				return nil, err
			}
			plans[i] = plan
			return sp, nil
		},
	}
	job.newDecoder = func() recordDecoder {
		return &importDecoder{nd: &ndjsonDecoder{d: newLineDecoder(times, idFrom), from: idFrom}, plans: plans, csv: anyCSV}
	}
	if !since.t.IsZero() || !until.t.IsZero() || skipRecent > 0 {
		job.window = &timeWindow{since: since.t, until: until.t, skipRecent: skipRecent, now: time.Now}
	}
	return runBatch(ctx, e, job)
}

// importDecoder decodes the records of an import's inputs: NDJSON lines,
// or CSV rows through the plan of their input.
type importDecoder struct {
	nd    *ndjsonDecoder
	plans []*csvPlan
	csv   bool
	rows  map[*csvPlan]*csvRowDecoder
}

func (d *importDecoder) decoderOf(ch *chunk) recordDecoder {
	plan := d.plans[ch.input]
	if plan == nil {
		return d.nd
	}
	if d.rows == nil {
		d.rows = map[*csvPlan]*csvRowDecoder{}
	}
	rd := d.rows[plan]
	if rd == nil {
		rd = plan.decoder()
		d.rows[plan] = rd
	}
	return rd
}

func (d *importDecoder) decode(ch *chunk, i int, f *msgFields) (bool, error) {
	return d.decoderOf(ch).decode(ch, i, f)
}

func (d *importDecoder) idParts(ch *chunk, i int) ([][]byte, string) {
	return d.decoderOf(ch).idParts(ch, i)
}

func checkCSVType(typ string) error {
	switch typ {
	case "identify", "track", "page", "screen", "group", "alias":
		return nil
	case "":
		return fmt.Errorf("a CSV input needs --type")
	}
	return fmt.Errorf("--type: %q is not one of identify, track, page, screen, group, alias", typ)
}
