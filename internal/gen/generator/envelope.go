package generator

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cdpkit/analytics-go/internal/catalog"
)

// EnvelopeFile is the generated file that turns every typed helper into an
// Envelope and back, for the transforms of package analytics
// (WithTransform).
const EnvelopeFile = "envelope_helpers.go"

// envelopes writes EnvelopeFile: envelopeOf, which dispatches any Message
// to its envelope method; for each shape, wire (the shape as the wire
// shows it, a map of its keys) and its From function (the shape read back
// from such a map); for each typed helper, envelope and its From
// function; and isAction, the events that trigger a Customer.io action.
//
// Both directions follow the helper's own encoding: a field goes into the
// Envelope under its wire key exactly when appendMessage would send it,
// with the same value, and its Extra keys beside it, losing to a set
// field as they do on the wire. Reading back, each field takes the value
// at its wire key when it has the field's type (see the read functions of
// envelope.go), and Extra takes the keys no set field claims, by the rule
// the encoding skips Extra keys with (writesKey). So a helper that no
// transform changed is rebuilt into one that encodes to the same bytes.
//
// Everything taken from the message is copied with own, cloneMap and the
// like, never stored as it is, so that the message does not escape to the
// heap (see envelope.go); the loops over slices of shapes are written out
// for the same reason (a method value called through a func would make
// the slice escape).
func (g *gen) envelopes() ([]byte, error) {
	b := newFile("analytics")
	b.p("import \"strings\"")
	b.p("")
	b.p("// envelopeOf fills env from msg, through a static call to its envelope")
	b.p("// method (see the generator's dispatch for why). A nil pointer and a type")
	b.p("// the switch does not list are invalid.")
	b.p("func envelopeOf(env *Envelope, msg Message) error {")
	b.p("switch m := msg.(type) {")
	g.messageCases(b, "m.envelope(env)")
	b.p("default:")
	b.p("return errUnlistedMessage(msg)")
	b.p("}")
	b.p("return nil")
	b.p("}")

	b.p("")
	b.p("// isAction reports whether a track call with this event name triggers an")
	b.p("// action of Customer.io's Journeys destination other than Track Event")
	b.p("// (deleting a person, registering a device, and so on).")
	b.p("func isAction(event string) bool {")
	b.p("switch event {")
	var names []string
	for _, a := range g.cat.Actions {
		if a.Trigger.Type == "track" {
			for _, ev := range a.Trigger.Events {
				names = append(names, strconv.Quote(ev))
			}
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("generator: no action is triggered by a named track event")
	}
	b.p("case %s:", strings.Join(names, ", "))
	b.p("return true")
	b.p("}")
	b.p("return false")
	b.p("}")

	for _, s := range g.shapeOrder {
		if err := g.shapeEnvelope(b, s); err != nil {
			return nil, err
		}
	}
	for _, ev := range g.cat.Events {
		if err := g.eventEnvelope(b, ev); err != nil {
			return nil, fmt.Errorf("generator: event %q: %w", ev.Name, err)
		}
	}
	return b.Bytes(), nil
}

// allMessages lists every Message type: the core ones, then the helpers.
func (g *gen) allMessages() []string {
	names := append([]string(nil), g.core...)
	for _, ev := range g.cat.Events {
		names = append(names, ev.GoName)
	}
	return names
}

// mapHint is the room made for n fields in a map: at most 8, which a map
// holds without more than its first group of slots (a larger hint makes
// the map allocate for room most messages do not use; it grows if needed).
func mapHint(n int) int { return min(n, 8) }

// fromName is the name of the function that reads the helper or shape
// named name back: orderCompletedFrom for OrderCompleted.
func fromName(name string) string {
	r, n := utf8.DecodeRuneInString(name)
	return string(unicode.ToLower(r)) + name[n:] + "From"
}

func (g *gen) shapeEnvelope(b *w, name string) error {
	s := g.cat.Shapes[name]
	if !s.Additional {
		return fmt.Errorf("generator: shape %s: a shape without Extra cannot keep the keys a transform adds", name)
	}
	b.p("")
	b.p("// wire returns s as it is sent: a map of its wire keys, a copy.")
	b.p("func (s *%s) wire() map[string]any {", name)
	b.p("w := map[string]any(cloneMap(s.Extra, %d))", mapHint(len(s.Properties)))
	for _, p := range s.Properties {
		if err := g.toWire(b, "w", "s", p); err != nil {
			return fmt.Errorf("generator: shape %s: %w", name, err)
		}
	}
	b.p("return w")
	b.p("}")
	b.p("")
	comment(b, "", fromName(name)+" reads a "+name+" back from w, a map as wire returns it, which it does not change.")
	b.p("func %s(w map[string]any) %s {", fromName(name), name)
	b.p("var s %s", name)
	for _, p := range s.Properties {
		if err := g.fromWire(b, "w", "s", p); err != nil {
			return fmt.Errorf("generator: shape %s: %w", name, err)
		}
	}
	b.p("s.Extra = extraWithout(w, s.writesKey)")
	b.p("return s")
	b.p("}")
	return nil
}

func (g *gen) eventEnvelope(b *w, ev catalog.Event) error {
	name := strconv.Quote(ev.Name)
	from := fromName(ev.GoName)
	var inProps, inContext []catalog.Property
	for _, p := range ev.Properties {
		switch p.Placement() {
		case catalog.InTop:
			return fmt.Errorf("property %q: a top-level property has no place in an Envelope", p.Key)
		case catalog.InContext:
			inContext = append(inContext, p)
		default:
			inProps = append(inProps, p)
		}
	}

	b.p("")
	b.p("func (m %s) envelope(env *Envelope) {", ev.GoName)
	b.p("env.helper(%s, %s, m.UserID, m.AnonymousID)", name, from)
	if ev.EmailIdentity {
		b.p("if blank(m.UserID) && !blank(m.Email) {")
		b.p("env.UserID = own(strings.TrimSpace(m.Email))")
		b.p("}")
	}
	b.p("p := cloneMap(m.Extra, %d)", mapHint(len(inProps)+1))
	if ev.EmailIdentity {
		b.p("if !blank(m.Email) {")
		b.p("p[\"email\"] = own(m.Email)")
		b.p("}")
	}
	for _, p := range inProps {
		if err := g.toWire(b, "p", "m", p); err != nil {
			return err
		}
	}
	b.p("env.Properties = p")
	b.p("env.common(m.Timestamp, m.Context, m.Integrations, m.MessageID)")
	// What appendMessage adds to the Context it sends (its contextCopy):
	// the Envelope shows the Context as sent.
	fields, err := g.contextFields(ev)
	if err != nil {
		return err
	}
	for _, f := range fields {
		b.p("if !blank(%s) {", f.expr)
		b.p("env.context%s().%s = own(%s)", f.Struct, f.Field, f.expr)
		b.p("}")
	}
	b.p("}")

	b.p("")
	comment(b, "", from+" rebuilds the "+ev.GoName+" an Envelope filled by its envelope method describes, as the transforms left it.")
	b.p("func %s(env *Envelope) Message {", from)
	b.p("p := env.Properties")
	b.p("m := %s{UserID: env.UserID, AnonymousID: env.AnonymousID,", ev.GoName)
	b.p("Timestamp: env.Timestamp, Context: env.Context, Integrations: env.Integrations, MessageID: env.MessageID}")
	if ev.EmailIdentity {
		b.p("m.Email = readString(p, \"email\")")
	}
	for _, p := range inProps {
		if err := g.fromWire(b, "p", "m", p); err != nil {
			return err
		}
	}
	if len(inContext) > 0 {
		b.p("if c := env.Context; c != nil {")
		for _, p := range inContext {
			cf := g.cat.ContextField(p.Key)
			if cf == nil {
				return fmt.Errorf("property %q: context.%s is no context field of the catalog", p.Key, p.Key)
			}
			v := "c." + cf.Struct + "." + cf.Field
			if p.Enum != nil {
				v = g.goType(p) + "(" + v + ")"
			}
			b.p("if c.%s != nil {", cf.Struct)
			b.p("m.%s = %s", p.GoName, v)
			b.p("}")
		}
		b.p("}")
	}
	if len(inProps) == 0 && !ev.EmailIdentity {
		b.p("m.Extra = extraWithout(p, nil)")
	} else {
		b.p("m.Extra = extraWithout(p, m.writesKey)")
	}
	b.p("return m")
	b.p("}")
	return nil
}

// toWire writes the statement that puts the field recv.GoName of p into
// the map named into, under p's key, when the field is sent.
func (g *gen) toWire(b *w, into, recv string, p catalog.Property) error {
	x := recv + "." + p.GoName
	key := strconv.Quote(p.Key)
	typ := g.goType(p)
	var v string
	switch {
	case p.Enum != nil:
		v = "own(string(" + x + "))"
	case typ == "string":
		v = "own(" + x + ")"
	case typ == "*float64", typ == "*int", typ == "*bool":
		v = "*" + x
	case typ == "time.Time":
		v = "ownTime(" + x + ")"
	case typ == "map[string]any":
		v = "cloneMap(" + x + ", 0)"
	case typ == "[]string":
		v = "cloneStrings(" + x + ")"
	case strings.HasPrefix(typ, "[]") && g.isShape(p.ElemType()):
		b.p("if %s != nil {", x)
		b.p("list := make([]any, len(%s))", x)
		b.p("for j := range %s {", x)
		b.p("list[j] = %s[j].wire()", x)
		b.p("}")
		b.p("%s[%s] = list", into, key)
		b.p("}")
		return nil
	case (typ == p.Type || typ == "*"+p.Type) && g.isShape(p.Type):
		v = x + ".wire()"
	default:
		return fmt.Errorf("property %q: type %q has no Envelope form", p.Key, p.Type)
	}
	if cond := g.isSet(x, p); cond != "true" {
		b.p("if %s {", cond)
		b.p("%s[%s] = %s", into, key, v)
		b.p("}")
	} else {
		b.p("%s[%s] = %s", into, key, v)
	}
	return nil
}

// fromWire writes the statement that reads the field recv.GoName of p
// back from the map named from (see the read functions of envelope.go).
func (g *gen) fromWire(b *w, from, recv string, p catalog.Property) error {
	x := recv + "." + p.GoName
	key := strconv.Quote(p.Key)
	typ := g.goType(p)
	switch {
	case p.Enum != nil:
		b.p("%s = readEnum[%s](%s, %s)", x, typ, from, key)
	case typ == "string":
		b.p("%s = readString(%s, %s)", x, from, key)
	case typ == "*float64":
		b.p("%s = readFloat(%s, %s)", x, from, key)
	case typ == "*int":
		b.p("%s = readInt(%s, %s)", x, from, key)
	case typ == "*bool":
		b.p("%s = readBool(%s, %s)", x, from, key)
	case typ == "time.Time":
		b.p("%s = readTime(%s, %s)", x, from, key)
	case typ == "map[string]any":
		b.p("%s = readObject(%s, %s)", x, from, key)
	case typ == "[]string":
		b.p("%s = readStrings(%s, %s)", x, from, key)
	case strings.HasPrefix(typ, "[]") && g.isShape(p.ElemType()):
		b.p("%s = readShapes(%s, %s, %s)", x, from, key, fromName(p.ElemType()))
	case typ == p.Type && g.isShape(p.Type):
		b.p("%s, _ = readShape(%s, %s, %s)", x, from, key, fromName(p.Type))
	case typ == "*"+p.Type && g.isShape(p.Type):
		b.p("if v, ok := readShape(%s, %s, %s); ok {", from, key, fromName(p.Type))
		b.p("%s = &v", x)
		b.p("}")
	default:
		return fmt.Errorf("property %q: type %q has no Envelope form", p.Key, p.Type)
	}
	return nil
}
