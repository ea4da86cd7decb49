package main

import (
	"fmt"
	"strings"
)

// csvColumn is what a CSV column is sent as.
type csvColumn struct {
	top  string // a top-level field, or ""
	obj  int    // else the object: objProperties, objTraits or objContextTraits
	key  string // the key in obj
	skip bool
}

const (
	objProperties = iota
	objTraits
	objContextTraits
)

// csvPlan is how the rows of one CSV input become messages of one type:
// each column is sent as the field its header (or its --map) names;
// with --unmapped, the other columns go to properties or traits.
//
// email is sent where Customer.io reads it: traits.email for identify and
// group, context.traits.email otherwise; traits.KEY of a call other than
// identify and group go to context.traits.
type csvPlan struct {
	typ, event string
	cols       []csvColumn
	times      *timeParser
	idCols     []int    // the columns --id-from names; nil for --id-from line or none
	idNames    []string // their names
	idLine     bool
}

func newCSVPlan(header []string, renames map[string]string, typ, event, unmapped string, times *timeParser, ids *idFrom) (*csvPlan, error) {
	hasTraits := typ == "identify" || typ == "group"
	hasProps := typ == "track" || typ == "page" || typ == "screen"
	traitsObj := objContextTraits
	if hasTraits {
		traitsObj = objTraits
	}
	p := &csvPlan{typ: typ, event: event, times: times}
	seen := map[string]string{}
	for _, h := range header {
		field := h
		if r, ok := renames[h]; ok {
			field = r
		}
		var c csvColumn
		switch {
		case field == "-":
			c.skip = true
		case field == "email":
			c.obj, c.key = traitsObj, "email"
		case strings.HasPrefix(field, "properties.") && len(field) > len("properties."):
			if !hasProps {
				return nil, fmt.Errorf("column %q: a %s call has no properties", h, typ)
			}
			c.obj, c.key = objProperties, strings.TrimPrefix(field, "properties.")
		case strings.HasPrefix(field, "traits.") && len(field) > len("traits."):
			c.obj, c.key = traitsObj, strings.TrimPrefix(field, "traits.")
		default:
			switch field {
			case "userId", "anonymousId", "event", "name", "groupId", "objectTypeId", "previousId", "messageId", "timestamp":
				c.top = field
			default:
				switch unmapped {
				case "skip":
					c.skip = true
				case "properties":
					if !hasProps {
						return nil, fmt.Errorf("--unmapped properties: a %s call has no properties; use --unmapped traits", typ)
					}
					c.obj, c.key = objProperties, h
				case "traits":
					c.obj, c.key = traitsObj, h
				default:
					return nil, fmt.Errorf("column %q: not a field; name the field with --map %s=FIELD (userId, anonymousId, email, event, name, groupId, objectTypeId, previousId, messageId, timestamp, properties.KEY, traits.KEY), leave it out with --map %s=-, or send every such column with --unmapped properties (or traits)", h, h, h)
				}
			}
		}
		if !c.skip {
			target := c.top
			if target == "" {
				target = [...]string{"properties.", "traits.", "context.traits."}[c.obj] + c.key
			}
			if other, dup := seen[target]; dup {
				return nil, fmt.Errorf("columns %q and %q both go to %s", other, h, target)
			}
			seen[target] = h
		}
		p.cols = append(p.cols, c)
	}
	if ids != nil {
		p.idLine = ids.line
		for _, name := range ids.fields {
			i := indexOf(header, name)
			if i < 0 {
				return nil, fmt.Errorf("--id-from: no column %q in the header %s", name, strings.Join(header, ","))
			}
			p.idCols, p.idNames = append(p.idCols, i), append(p.idNames, name)
		}
	}
	return p, nil
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// decoder returns a decoder of the plan's rows for one worker.
func (p *csvPlan) decoder() *csvRowDecoder {
	return &csvRowDecoder{p: p, objs: [3]map[string]any{{}, {}, {}}, ctx: map[string]any{}}
}

// csvRowDecoder makes CSV rows messages; it belongs to one worker and
// reuses its maps from one row to the next.
type csvRowDecoder struct {
	p     *csvPlan
	objs  [3]map[string]any
	ctx   map[string]any
	parts [][]byte
}

func (d *csvRowDecoder) decode(ch *chunk, i int, f *msgFields) (bool, error) {
	rec := &ch.recs[i]
	if rec.err != nil {
		return false, rec.err
	}
	if allEmpty(rec.row) {
		return true, nil
	}
	p := d.p
	*f = msgFields{typ: p.typ}
	if p.typ == "track" {
		f.event = p.event
	}
	for _, m := range d.objs {
		clear(m)
	}
	clear(d.ctx)
	for ci, c := range p.cols {
		if c.skip || ci >= len(rec.row) || rec.row[ci] == "" {
			continue
		}
		v := rec.row[ci]
		if c.top == "" {
			if c.key == "email" {
				d.objs[c.obj][c.key] = v
			} else {
				d.objs[c.obj][c.key] = parseValue(v)
			}
			continue
		}
		if c.top == "timestamp" {
			t, err := p.times.text(v)
			if err != nil {
				return false, err
			}
			f.timestamp = t
			continue
		}
		*f.text(c.top) = v
	}
	if len(d.objs[objProperties]) > 0 {
		f.properties = d.objs[objProperties]
	}
	if len(d.objs[objTraits]) > 0 {
		f.traits = d.objs[objTraits]
	}
	if len(d.objs[objContextTraits]) > 0 {
		d.ctx["traits"] = d.objs[objContextTraits]
		f.context = d.ctx
	}
	return false, nil
}

func (d *csvRowDecoder) idParts(ch *chunk, i int) ([][]byte, string) {
	if d.p.idLine {
		return [][]byte{ch.text(i)}, ""
	}
	rec := &ch.recs[i]
	d.parts = d.parts[:0]
	for k, ci := range d.p.idCols {
		if ci >= len(rec.row) || strings.TrimSpace(rec.row[ci]) == "" {
			return nil, d.p.idNames[k]
		}
		d.parts = append(d.parts, []byte(rec.row[ci]))
	}
	return d.parts, ""
}

func allEmpty(row []string) bool {
	for _, f := range row {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// parseValue returns v as JSON when it is one JSON value (42, true, null,
// {"a":1}, "quoted"), and as a string otherwise. Numbers keep their digits.
func parseValue(v string) any {
	b := []byte(v)
	s := scanner{data: b}
	s.ws()
	start := s.pos
	kind, err := s.value(0)
	if err != nil {
		return v
	}
	end := s.pos
	if s.ws(); s.pos != len(b) {
		return v
	}
	return jsonValue(b[start:end], kind)
}
