package generator

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"

	"github.com/cdpkit/analytics-go/internal/catalog"
)

// threeEvents is a catalog of three events that between them use what the
// templates do: a shape with Extra in an array, a named and an unnamed
// enum, bounds, a property also sent in context, a
// person named by email, a map, a time, and an event that triggers an
// action of the Journeys destination.
const threeEvents = `{
  "shapes": {
    "Item": {
      "doc": "One item of a widget order.",
      "additional": true,
      "properties": [
        {"key": "item_id", "goName": "ItemID", "type": "string", "required": true, "doc": "ID of the item."},
        {"key": "price", "goName": "Price", "type": "number", "doc": "Price of the item."}
      ]
    }
  },
  "events": [
    {
      "name": "Widget Bought", "goName": "WidgetBought", "family": "ecommerce",
      "doc": "Someone bought widgets.",
      "properties": [
        {"key": "items", "goName": "Items", "type": "Item[]", "required": true, "doc": "The items."},
        {"key": "tier", "goName": "Tier", "type": "string", "enum": ["gold", "silver"], "doc": "The buyer's tier."},
        {"key": "count", "goName": "Count", "type": "integer", "min": 1, "max": 10, "doc": "How many."}
      ]
    },
    {
      "name": "Widget Opened", "goName": "WidgetOpened", "family": "lifecycle",
      "doc": "Someone opened the widget app.",
      "properties": [
        {"key": "version", "goName": "Version", "type": "string", "context": "app.version", "doc": "App version."},
        {"key": "flavor", "goName": "Flavor", "type": "string", "enum": ["sweet", "sour"], "doc": "The flavor."}
      ]
    },
    {
      "name": "Widget Reported", "goName": "WidgetReported", "family": "email",
      "doc": "Someone reported a widget.",
      "emailIdentity": true, "userIdRequired": true,
      "properties": [
        {"key": "details", "goName": "Details", "type": "object", "doc": "What was wrong."},
        {"key": "reported_at", "goName": "ReportedAt", "type": "datetime", "doc": "When."}
      ]
    }
  ],
  "enums": [
    {"goName": "Tier", "doc": "Tier is a buyer's tier.", "values": ["gold", "silver"]}
  ],
  "contextFields": [
    {"path": "app.version", "goStruct": "App", "goStructType": "AppInfo", "goField": "Version"}
  ],
  "formats": {},
  "actions": [
    {
      "name": "Handle Report", "key": "handleReport", "doc": "Handles a widget report.",
      "trigger": {"type": "track", "events": ["Widget Reported"]},
      "helpers": ["WidgetReported"],
      "fields": [{"name": "person_id", "paths": ["userId"], "required": true}]
    }
  ],
  "notes": []
}`

func parseCatalog(t *testing.T, src string) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Parse([]byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

// generate runs Generate on src with one core message type, Track.
func generate(t *testing.T, src string) map[string][]byte {
	t.Helper()
	files, err := Generate(parseCatalog(t, src), []string{"Track"})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return files
}

// decls parses a generated file and returns its type declarations and
// the methods, as "Recv.Name", it declares.
func decls(t *testing.T, name string, src []byte) (types map[string]ast.Expr, methods map[string]bool) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ParseComments)
	if err != nil {
		t.Fatalf("%s does not parse: %v", name, err)
	}
	if !ast.IsGenerated(f) {
		t.Errorf("%s lacks the generated-code header", name)
	}
	types, methods = map[string]ast.Expr{}, map[string]bool{}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.GenDecl:
			for _, s := range d.Specs {
				if ts, ok := s.(*ast.TypeSpec); ok {
					types[ts.Name.Name] = ts.Type
				}
			}
		case *ast.FuncDecl:
			if d.Recv != nil {
				recv := d.Recv.List[0].Type
				if st, ok := recv.(*ast.StarExpr); ok {
					recv = st.X
				}
				methods[recv.(*ast.Ident).Name+"."+d.Name.Name] = true
			}
		}
	}
	return types, methods
}

// fields returns the names and types of a struct's fields, as "Name type".
func fields(t *testing.T, typ ast.Expr) []string {
	t.Helper()
	st, ok := typ.(*ast.StructType)
	if !ok {
		t.Fatalf("not a struct: %T", typ)
	}
	var out []string
	for _, f := range st.Fields.List {
		var b bytes.Buffer
		writeType(&b, f.Type)
		for _, n := range f.Names {
			out = append(out, n.Name+" "+b.String())
		}
	}
	return out
}

func writeType(b *bytes.Buffer, e ast.Expr) {
	switch e := e.(type) {
	case *ast.Ident:
		b.WriteString(e.Name)
	case *ast.StarExpr:
		b.WriteString("*")
		writeType(b, e.X)
	case *ast.ArrayType:
		b.WriteString("[]")
		writeType(b, e.Elt)
	case *ast.MapType:
		b.WriteString("map[")
		writeType(b, e.Key)
		b.WriteString("]")
		writeType(b, e.Value)
	case *ast.SelectorExpr:
		writeType(b, e.X)
		b.WriteString("." + e.Sel.Name)
	default:
		b.WriteString("?")
	}
}

// contains reports whether src holds want, with every run of spaces and
// tabs counted as one space (gofmt aligns columns).
func contains(src []byte, want string) bool {
	squeeze := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	return strings.Contains(squeeze(string(src)), squeeze(want))
}

// TestGenerateThreeEvents: each event becomes a struct of its family's
// file with a field per property, an appendMessage that checks and sends
// what the catalog says, and a writesKey; each shape and enum is declared
// once, in the file of its first user; the dispatch lists them all.
func TestGenerateThreeEvents(t *testing.T) {
	files := generate(t, threeEvents)
	for _, name := range []string{"semantic.go", "ecommerce.go", "abtest.go", "email.go", "livechat.go", "lifecycle.go", "video.go",
		DispatchFile, TableFile, CoreTypesFile, EnvelopeFile} {
		if _, ok := files[name]; !ok {
			t.Errorf("no %s", name)
		}
	}

	ecommerce := files["ecommerce.go"]
	types, methods := decls(t, "ecommerce.go", ecommerce)
	if got, want := strings.Join(fields(t, types["WidgetBought"]), "; "),
		"UserID string; AnonymousID string; Items []Item; Tier Tier; Count *int; Extra Properties; "+
			"Timestamp time.Time; Context *Context; Integrations Integrations; MessageID string"; got != want {
		t.Errorf("WidgetBought fields:\n got %s\nwant %s", got, want)
	}
	if got, want := strings.Join(fields(t, types["Item"]), "; "), "ItemID string; Price *float64; Extra Properties"; got != want {
		t.Errorf("Item fields: got %s, want %s", got, want)
	}
	if _, ok := types["Tier"]; !ok {
		t.Error("the catalog's enum Tier is not declared in the file of its first user")
	}
	for _, m := range []string{"WidgetBought.appendMessage", "WidgetBought.writesKey", "Item.appendJSON", "Item.writesKey", "Tier.known"} {
		if !methods[m] {
			t.Errorf("ecommerce.go: no method %s", m)
		}
	}
	for _, want := range []string{
		`TierGold Tier = "gold"`,
		`e.begin("track", "Widget Bought", m.MessageID, m.Timestamp)`,
		`return e.invalid("properties.items", "is required")`,
		`if m.Tier != "" && !m.Tier.known() {`,
		`return e.badEnum("properties.tier", string(m.Tier), "\"gold\", \"silver\"")`,
		`if m.Count != nil && (*m.Count < 1 || *m.Count > 10) {`,
		// The shape's path is built only for an error.
		`return e.notFinite(shapePath(base, i, "price"), *s.Price)`,
		`if err := e.entries(s.Extra, s.writesKey); err != nil {`,
		`// How many. From 1 to 10. Sent as properties.count.`,
	} {
		if !contains(ecommerce, want) {
			t.Errorf("ecommerce.go lacks %s", want)
		}
	}

	lifecycle := files["lifecycle.go"]
	types, methods = decls(t, "lifecycle.go", lifecycle)
	if _, ok := types["WidgetOpenedFlavor"]; !ok || !methods["WidgetOpenedFlavor.known"] {
		t.Error("an enum the catalog does not name is not declared as WidgetOpenedFlavor with known")
	}
	for _, want := range []string{
		// Sent in properties only when not blank, as in context.
		`e.id("version", m.Version)`,
		// The copy of the caller's Context with the app version set.
		`var ccApp AppInfo`,
		`ccApp.Version = m.Version`,
		`return e.end(ctx, m.Integrations)`,
	} {
		if !contains(lifecycle, want) {
			t.Errorf("lifecycle.go lacks %s", want)
		}
	}

	email := files["email.go"]
	for _, want := range []string{
		`Email string`,
		`if err := e.requireUserIDOrEmail(m.UserID, m.Email); err != nil {`,
		`e.person(m.UserID, m.Email)`,
		`e.id("email", m.Email)`,
		`if err := e.object("details", m.Details); err != nil {`,
		`return e.wrap("properties.details", err)`,
		`e.optTime("reported_at", m.ReportedAt)`,
		`return e.end(m.Context, m.Integrations)`,
	} {
		if !contains(email, want) {
			t.Errorf("email.go lacks %s", want)
		}
	}

	dispatch := string(files[DispatchFile])
	for _, typ := range []string{"Track", "WidgetBought", "WidgetOpened", "WidgetReported"} {
		if !strings.Contains(dispatch, "case "+typ+":") || !strings.Contains(dispatch, "case *"+typ+":") {
			t.Errorf("dispatch.go does not list %s and *%s", typ, typ)
		}
	}
	for _, ev := range []string{`"Widget Bought": WidgetBought{}`, `"Widget Opened": WidgetOpened{}`, `"Widget Reported": WidgetReported{}`} {
		if !contains(files[TableFile], ev) {
			t.Errorf("%s lacks %s", TableFile, ev)
		}
	}
	if env := string(files[EnvelopeFile]); !strings.Contains(env, `case "Widget Reported":`) || strings.Contains(env, `case "Widget Bought":`) {
		t.Errorf("isAction does not list exactly the event that triggers an action")
	}
	if !bytes.Contains(files["video.go"], []byte("package analytics")) || bytes.Contains(files["video.go"], []byte("struct")) {
		t.Error("a family without events does not get an empty file")
	}
}

// TestGenerateIsDeterministic: the same catalog gives the same bytes, so
// that go generate leaves an unchanged tree unchanged.
func TestGenerateIsDeterministic(t *testing.T) {
	a, b := generate(t, threeEvents), generate(t, threeEvents)
	for name := range a {
		if !bytes.Equal(a[name], b[name]) {
			t.Errorf("%s differs between two runs", name)
		}
	}
}

// TestGenerateRefuses: what the templates cannot write is an error that
// names the event and the property, not code that does not compile.
func TestGenerateRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"a property of type any (it would make every message escape)",
			`"type": "object", "doc": "What was wrong."`, `"type": "any", "doc": "What was wrong."`,
			`property "details": type "any" is not supported`},
		{"a number sent in context",
			`"key": "version", "goName": "Version", "type": "string"`, `"key": "version", "goName": "Version", "type": "number"`,
			`property "version": only a string`},
		{"a top-level property (an Envelope has no place for it)",
			`"type": "integer", "min": 1,`, `"type": "integer", "in": "top", "min": 1,`,
			`property "count": a top-level property has no place in an Envelope`},
		{"a shape no event uses",
			`"shapes": {`, `"shapes": {"Unused": {"doc": "Nothing.", "properties": [{"key": "k", "goName": "K", "type": "string", "doc": "K."}]},`,
			`shape "Unused" is used by no event`},
	} {
		src := strings.Replace(threeEvents, tc.from, tc.to, 1)
		if src == threeEvents {
			t.Fatalf("%s: the test's replacement does not apply", tc.name)
		}
		_, err := Generate(parseCatalog(t, src), []string{"Track"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Generate error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := Generate(parseCatalog(t, threeEvents), nil); err == nil {
		t.Error("Generate without core message types: no error")
	}
}

// TestCatalogTablesAreChecked: a property's context path, enum name and
// format come from the catalog, which Parse checks.
func TestCatalogTablesAreChecked(t *testing.T) {
	for _, tc := range []struct{ name, from, to, want string }{
		{"a context path with no context field", `"context": "app.version"`, `"context": "app.build"`, "context.app.build is not one of the context fields"},
		{"an unknown format", `"type": "datetime",`, `"type": "datetime", "format": "nope",`, `format "nope" is unknown`},
		{"an enum doc that does not start with its name", `"doc": "Tier is a buyer's tier."`, `"doc": "A buyer's tier."`, "doc must start with the type's name"},
	} {
		src := strings.Replace(threeEvents, tc.from, tc.to, 1)
		if src == threeEvents {
			t.Fatalf("%s: the test's replacement does not apply", tc.name)
		}
		_, err := catalog.Parse([]byte(src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Parse error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}
