package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	analytics "github.com/cdpkit/analytics-go"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func runImport(ctx context.Context, e *env, name string, args []string) int {
	var (
		f      sendFlags
		format string
		typ    string
		event  string
		maps   stringList
	)
	fs := flag.NewFlagSet("cdp import", flag.ContinueOnError)
	f.register(fs)
	fs.StringVar(&format, "format", "auto", "input `format`: ndjson, csv, or auto (csv for a .csv file, else ndjson)")
	fs.StringVar(&typ, "type", "", "CSV: the message `type` of every row: identify, track, page, screen, group or alias")
	fs.StringVar(&event, "event", "", "CSV: the event `name` of every track row (an \"event\" column overrides it)")
	fs.Var(&maps, "map", "CSV: `COLUMN=FIELD` sends the column as FIELD, one of userId, anonymousId, email, event, name, groupId, objectTypeId, previousId, messageId, timestamp, properties.KEY, traits.KEY, or - to leave it out (repeatable)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: cdp import [flags] FILE... (or - for stdin)

Sends every line of the files: NDJSON with one message in the API's JSON shape
per line ({"type":"track","userId":"42","event":"Signed Up"}), or CSV with a
header row naming the fields (see --map). Each line is validated by the
library; an invalid line is counted and reported (see --bad), never skipped.

Flags:
`)
		fs.PrintDefaults()
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
		return format == "csv" || format == "auto" && strings.HasSuffix(strings.ToLower(inputs[i].name), ".csv")
	}
	for i := range inputs {
		if isCSV(i) {
			if err := checkCSVType(typ); err != nil {
				return usageError(e, "%s: %v", inputs[i].name, err)
			}
		}
	}
	job := batchJob{
		command: name,
		flags:   &f,
		inputs:  inputs,
		makeSource: func(i int, r io.Reader) (source, error) {
			if !isCSV(i) {
				return &ndjsonSource{lr: newLineReader(r)}, nil
			}
			return newCSVSource(r, func(header []string) (func([]string) (analytics.Message, error), error) {
				return csvPlan(header, renames, typ, event)
			})
		},
	}
	return runBatch(ctx, e, job)
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

// csvPlan returns the function that makes a CSV row a message of type typ:
// each column is sent as the field its header (or its --map) names. The
// row is turned into the API's JSON shape and decoded as an NDJSON line is,
// so that a CSV row and an NDJSON line mean the same and the library
// validates both.
//
// email is sent where Customer.io reads it: traits.email for identify and
// group, context.traits.email otherwise; traits.KEY of a call other than
// identify and group go to context.traits.
func csvPlan(header []string, renames map[string]string, typ, event string) (func([]string) (analytics.Message, error), error) {
	hasTraits := typ == "identify" || typ == "group"
	hasProps := typ == "track" || typ == "page" || typ == "screen"
	type column struct {
		top   string // a top-level key, or ""
		obj   string // "properties", "traits" or "context.traits"
		key   string // the key in obj
		skip  bool
		index int
	}
	var cols []column
	seen := map[string]string{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		field := h
		if r, ok := renames[h]; ok {
			field = r
		}
		c := column{index: i}
		switch {
		case field == "-":
			c.skip = true
		case field == "email":
			c.obj, c.key = "context.traits", "email"
			if hasTraits {
				c.obj = "traits"
			}
		case strings.HasPrefix(field, "properties.") && len(field) > len("properties."):
			if !hasProps {
				return nil, fmt.Errorf("column %q: a %s call has no properties", h, typ)
			}
			c.obj, c.key = "properties", strings.TrimPrefix(field, "properties.")
		case strings.HasPrefix(field, "traits.") && len(field) > len("traits."):
			c.obj, c.key = "context.traits", strings.TrimPrefix(field, "traits.")
			if hasTraits {
				c.obj = "traits"
			}
		default:
			switch field {
			case "userId", "anonymousId", "event", "name", "groupId", "objectTypeId", "previousId", "messageId", "timestamp":
				c.top = field
			default:
				return nil, fmt.Errorf("column %q: not a field; name the field with --map %s=FIELD (userId, anonymousId, email, event, name, groupId, objectTypeId, previousId, messageId, timestamp, properties.KEY, traits.KEY) or leave it out with --map %s=-", h, h, h)
			}
		}
		if !c.skip {
			target := c.top
			if target == "" {
				target = c.obj + "." + c.key
			}
			if other, dup := seen[target]; dup {
				return nil, fmt.Errorf("columns %q and %q both go to %s", other, h, target)
			}
			seen[target] = h
		}
		cols = append(cols, c)
	}
	return func(row []string) (analytics.Message, error) {
		msg := map[string]any{"type": typ}
		if typ == "track" && event != "" {
			msg["event"] = event
		}
		objects := map[string]map[string]any{}
		for _, c := range cols {
			if c.skip || c.index >= len(row) || row[c.index] == "" {
				continue
			}
			v := row[c.index]
			if c.top != "" {
				msg[c.top] = v
				continue
			}
			o := objects[c.obj]
			if o == nil {
				o = map[string]any{}
				objects[c.obj] = o
			}
			if c.key == "email" {
				o[c.key] = v
			} else {
				o[c.key] = parseValue(v)
			}
		}
		if o := objects["properties"]; o != nil {
			msg["properties"] = o
		}
		if o := objects["traits"]; o != nil {
			msg["traits"] = o
		}
		if o := objects["context.traits"]; o != nil {
			msg["context"] = map[string]any{"traits": o}
		}
		data, err := json.Marshal(msg)
		if err != nil {
			return nil, err
		}
		return decodeMessage(data)
	}, nil
}

// parseValue returns v as JSON when it is a JSON value (42, true, null,
// {"a":1}, "quoted"), and as a string otherwise. Numbers keep their digits.
func parseValue(v string) any {
	if !json.Valid([]byte(v)) {
		return v
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return v
	}
	return x
}
