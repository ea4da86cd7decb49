package analytics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cdpkit/analytics-go/internal/catalog"
	"github.com/cdpkit/analytics-go/internal/gen/generator"
)

// The tests of the typed helpers: the generated files are up to date, every
// catalog event has a helper and every helper an event, with the fields the
// catalog lists, and the helpers validate and encode as documented. The
// goldens, through the real client, are in helpers_golden_test.go.

// allHelpers returns the zero value of every generated helper, keyed by event
// name, from the table the generator writes into messages_gen_test.go.
func allHelpers(t testing.TB) map[string]Message {
	t.Helper()
	return generatedHelpers
}

func loadCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Load()
	if err != nil {
		t.Fatalf("catalog.Load: %v", err)
	}
	return c
}

// FilledHelpersForTest returns every helper with every field set (see
// fillHelper), keyed by event name. It exists for helpers_golden_test.go in
// package analytics_test.
func FilledHelpersForTest(t testing.TB) map[string]Message {
	t.Helper()
	cat := loadCatalog(t)
	helpers := allHelpers(t)
	out := map[string]Message{}
	for i := range cat.Events {
		ev := &cat.Events[i]
		zero, ok := helpers[ev.Name]
		if !ok {
			t.Fatalf("event %q has no helper", ev.Name)
		}
		out[ev.Name] = fillHelper(t, cat, ev, zero)
	}
	return out
}

// helperTime is the time every datetime field and Timestamp of a filled
// helper holds.
var helperTime = time.Date(2025, 11, 24, 22, 56, 14, 144_000_000, time.UTC)

// fillHelper returns zero's type with every field set: the identity fields,
// every property of ev (arrays of shapes get two elements, each with every
// field set), a custom key in Extra and the common fields except MessageID,
// which the client fills.
func fillHelper(t testing.TB, cat *catalog.Catalog, ev *catalog.Event, zero Message) Message {
	t.Helper()
	v := reflect.New(reflect.TypeOf(zero)).Elem()
	v.FieldByName("UserID").SetString("97980cfea0067")
	v.FieldByName("AnonymousID").SetString("c0e5cae6-6f04-46e4-97a8-25076e8bdc0b")
	if ev.EmailIdentity {
		v.FieldByName("Email").SetString("cool.person@example.com")
	}
	for i, p := range ev.Properties {
		fillProperty(t, cat, v.FieldByName(p.GoName), p, i)
	}
	v.FieldByName("Extra").Set(reflect.ValueOf(Properties{"custom_key": "custom value"}))
	v.FieldByName("Timestamp").Set(reflect.ValueOf(helperTime))
	v.FieldByName("Context").Set(reflect.ValueOf(&Context{
		IP:     "203.0.113.7",
		Locale: "en-US",
		Device: &DeviceInfo{Manufacturer: "Google", Model: "Pixel 9", Type: "android", Token: "previous-token"},
	}))
	v.FieldByName("Integrations").Set(reflect.ValueOf(Integrations{"All": true}))
	return v.Interface().(Message)
}

func fillProperty(t testing.TB, cat *catalog.Catalog, f reflect.Value, p catalog.Property, n int) {
	t.Helper()
	if !f.IsValid() {
		t.Fatalf("no field %s for %q", p.GoName, p.Key)
	}
	switch elem := p.ElemType(); {
	case p.Enum != nil:
		f.SetString(p.Enum[0])
	case p.Key == "objectTypeId":
		f.SetString("2")
	case p.Type == catalog.TypeString:
		f.SetString(p.Key + "-value")
	case p.Type == catalog.TypeNumber:
		f.Set(reflect.ValueOf(Float64(float64(n+1) * 2.5)))
	case p.Type == catalog.TypeInteger:
		x := n + 1
		if p.Max != nil && float64(x) > *p.Max {
			x = int(*p.Max)
		}
		if p.Min != nil && float64(x) < *p.Min {
			x = int(*p.Min)
		}
		f.Set(reflect.ValueOf(Int(x)))
	case p.Type == catalog.TypeBoolean:
		f.Set(reflect.ValueOf(Bool(true)))
	case p.Type == catalog.TypeDateTime:
		f.Set(reflect.ValueOf(helperTime))
	case p.Type == catalog.TypeObject:
		f.Set(reflect.ValueOf(map[string]any{"title": p.Key + "-title"}))
	case p.Type == catalog.TypeAny:
		f.Set(reflect.ValueOf(any(p.Key + "-value")))
	case p.Type == "string[]":
		f.Set(reflect.ValueOf([]string{p.Key + "-1", p.Key + "-2"}))
	case p.Type == "integer[]":
		f.Set(reflect.ValueOf([]int{1, 2}))
	case p.IsArray():
		s := reflect.MakeSlice(f.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			fillShape(t, cat, s.Index(i), elem, i)
		}
		f.Set(s)
	default:
		if f.Kind() == reflect.Pointer {
			f.Set(reflect.New(f.Type().Elem()))
			f = f.Elem()
		}
		fillShape(t, cat, f, elem, 0)
	}
}

func fillShape(t testing.TB, cat *catalog.Catalog, v reflect.Value, shape string, n int) {
	t.Helper()
	s := cat.Shapes[shape]
	for i, p := range s.Properties {
		fillProperty(t, cat, v.FieldByName(p.GoName), p, n*len(s.Properties)+i)
	}
	if s.Additional {
		v.FieldByName("Extra").Set(reflect.ValueOf(Properties{"custom_" + strings.ToLower(shape) + "_key": n + 1}))
	}
}

// TestHelpersGeneratedUpToDate fails when the generated files differ from
// what the generator makes of the catalog now: run go generate ./...
func TestHelpersGeneratedUpToDate(t *testing.T) {
	core, err := generator.CoreMessages(".")
	if err != nil {
		t.Fatalf("CoreMessages: %v", err)
	}
	files, err := generator.Generate(loadCatalog(t), core)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if len(files) != len(catalog.Families)+4 {
		t.Errorf("%d files generated, want one per family (%d), %s, %s, %s and %s", len(files), len(catalog.Families),
			generator.DispatchFile, generator.TableFile, generator.CoreTypesFile, generator.EnvelopeFile)
	}
	for name, want := range files {
		got, err := os.ReadFile(name)
		if err != nil {
			t.Errorf("%s: %v (run go generate ./...)", name, err)
			continue
		}
		if !bytes.HasPrefix(want, []byte(generator.Header+"\n")) {
			t.Errorf("%s: generated file does not start with the generated-code header", name)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./...", name)
		}
	}
}

// TestHelpersMatchCatalog walks the catalog and the helpers both ways: every
// event has a helper and every helper an event, with the Go name, event name
// and struct fields (names, order and types) the catalog implies.
func TestHelpersMatchCatalog(t *testing.T) {
	cat := loadCatalog(t)
	helpers := allHelpers(t)
	if len(helpers) != len(cat.Events) {
		t.Errorf("%d helpers for %d catalog events", len(helpers), len(cat.Events))
	}
	for name := range helpers {
		if cat.Event(name) == nil {
			t.Errorf("helper for %q, which is not in the catalog", name)
		}
	}
	for i := range cat.Events {
		ev := &cat.Events[i]
		zero, ok := helpers[ev.Name]
		if !ok {
			t.Errorf("event %q has no helper", ev.Name)
			continue
		}
		typ := reflect.TypeOf(zero)
		if typ.Name() != ev.GoName {
			t.Errorf("event %q: helper is %s, want %s", ev.Name, typ.Name(), ev.GoName)
		}
		if err := checkHelperFields(cat, ev, typ); err != nil {
			t.Errorf("%s: %v", ev.GoName, err)
		}

		// The zero value is rejected, naming the event: the identity is
		// always required.
		var ve *ValidationError
		if _, err := encodeHelper(zero); !errors.As(err, &ve) || ve.Event != ev.Name || ve.Type != "track" {
			t.Errorf("%s{}: error %v, want a track ValidationError for event %q", ev.GoName, err, ev.Name)
		}

		// Filled, it sends the event name and every documented key.
		msg, err := encodeHelper(fillHelper(t, cat, ev, zero))
		if err != nil {
			t.Errorf("%s filled: %v", ev.GoName, err)
			continue
		}
		if err := checkEveryKey(cat, ev, msg); err != nil {
			t.Errorf("%s filled: %v", ev.GoName, err)
		}
	}
}

// checkHelperFields compares the fields of a helper struct with the catalog.
func checkHelperFields(cat *catalog.Catalog, ev *catalog.Event, typ reflect.Type) error {
	type field struct {
		name string
		typ  string
	}
	want := []field{{"UserID", "string"}, {"AnonymousID", "string"}}
	if ev.EmailIdentity {
		want = append(want, field{"Email", "string"})
	}
	for _, p := range ev.Properties {
		want = append(want, field{p.GoName, wantGoType(cat, p)})
	}
	want = append(want,
		field{"Extra", "analytics.Properties"},
		field{"Timestamp", "time.Time"},
		field{"Context", "*analytics.Context"},
		field{"Integrations", "analytics.Integrations"},
		field{"MessageID", "string"},
	)
	var got []field
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		got = append(got, field{f.Name, f.Type.String()})
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("fields\n got %v\nwant %v", got, want)
	}
	// The shapes the helper uses.
	for _, p := range ev.Properties {
		s, ok := cat.Shapes[p.ElemType()]
		if !ok {
			continue
		}
		st, _ := typ.FieldByName(p.GoName)
		ft := st.Type
		for ft.Kind() == reflect.Slice || ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		var want, got []field
		for _, sp := range s.Properties {
			want = append(want, field{sp.GoName, wantGoType(cat, sp)})
		}
		if s.Additional {
			want = append(want, field{"Extra", "analytics.Properties"})
		}
		for i := 0; i < ft.NumField(); i++ {
			got = append(got, field{ft.Field(i).Name, ft.Field(i).Type.String()})
		}
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("shape %s fields\n got %v\nwant %v", ft.Name(), got, want)
		}
	}
	return nil
}

// wantGoType is the Go type, as reflect spells it, of a property's field. An
// enum is a named string type; which one is checked by the encoding tests.
func wantGoType(cat *catalog.Catalog, p catalog.Property) string {
	if p.Enum != nil {
		switch strings.Join(p.Enum, "|") {
		case "ios|android":
			return "analytics.DeviceType"
		case "delivered|opened|clicked|converted|spammed|bounced|dropped|deferred":
			return "analytics.DeliveryMetric"
		case "viewed_content|clicked_content":
			return "analytics.ContentActionType"
		case "pre-roll|mid-roll|post-roll":
			return "analytics.AdType"
		case "dynamic|linear":
			return "analytics.AdLoadType"
		}
		return "an enum type"
	}
	switch p.Type {
	case catalog.TypeString:
		return "string"
	case catalog.TypeNumber:
		return "*float64"
	case catalog.TypeInteger:
		return "*int"
	case catalog.TypeBoolean:
		return "*bool"
	case catalog.TypeDateTime:
		return "time.Time"
	case catalog.TypeObject:
		return "map[string]interface {}"
	case catalog.TypeAny:
		return "interface {}"
	case "string[]":
		return "[]string"
	case "integer[]":
		return "[]int"
	}
	if p.IsArray() {
		return "[]analytics." + p.ElemType()
	}
	if p.Required {
		return "analytics." + p.Type
	}
	return "*analytics." + p.Type
}

// checkEveryKey checks that msg, the encoding of a filled helper, carries
// the event name and every documented key where the catalog places it.
func checkEveryKey(cat *catalog.Catalog, ev *catalog.Event, msg map[string]any) error {
	if msg["type"] != "track" || msg["event"] != ev.Name {
		return fmt.Errorf("type %v, event %v; want track %q", msg["type"], msg["event"], ev.Name)
	}
	props, _ := msg["properties"].(map[string]any)
	ctx, _ := msg["context"].(map[string]any)
	if ev.EmailIdentity && props["email"] != "cool.person@example.com" {
		return fmt.Errorf("properties.email = %v", props["email"])
	}
	if props["custom_key"] != "custom value" {
		return fmt.Errorf("Extra key custom_key not in properties: %v", props)
	}
	for _, p := range ev.Properties {
		var where map[string]any
		key := p.Key
		switch p.Placement() {
		case catalog.InTop:
			where = msg
		case catalog.InContext:
			where, key = ctx, ""
			if v, ok := atPath(ctx, p.Key); !ok || v == "" {
				return fmt.Errorf("context.%s not sent", p.Key)
			}
		default:
			where = props
		}
		if p.Context != "" {
			if v, ok := atPath(ctx, p.Context); !ok || v != where[key] {
				return fmt.Errorf("context.%s = %v, want the value of %s, %v", p.Context, v, p.Key, where[key])
			}
		}
		if key == "" {
			continue
		}
		v, ok := where[key]
		if !ok {
			return fmt.Errorf("key %q (%s) not sent", p.Key, p.Placement())
		}
		if p.Placement() == catalog.InPropertiesAndContext {
			cv, ok := ctx[p.Key].(map[string]any)
			if !ok {
				return fmt.Errorf("context.%s not sent", p.Key)
			}
			pv := v.(map[string]any)
			for _, k := range []string{"token", "type"} {
				if cv[k] != pv[k] {
					return fmt.Errorf("context.%s.%s = %v, properties.%s.%s = %v", p.Key, k, cv[k], p.Key, k, pv[k])
				}
			}
		}
		s, isShape := cat.Shapes[p.ElemType()]
		if !isShape {
			continue
		}
		objs := []any{v}
		if p.IsArray() {
			objs, _ = v.([]any)
			if len(objs) != 2 {
				return fmt.Errorf("%s: %d elements, want 2", p.Key, len(objs))
			}
		}
		for i, o := range objs {
			obj, _ := o.(map[string]any)
			for _, sp := range s.Properties {
				if _, ok := obj[sp.Key]; !ok {
					return fmt.Errorf("%s[%d]: key %q not sent", p.Key, i, sp.Key)
				}
			}
		}
	}
	return nil
}

// atPath returns the value at the dotted path inside m.
func atPath(m map[string]any, path string) (any, bool) {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		o, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = o[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// encodeHelper encodes m as Enqueue does and decodes the result.
func encodeHelper(m Message) (map[string]any, error) {
	raw, err := encodeHelperRaw(m)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("invalid JSON %s: %v", raw, err)
	}
	return out, nil
}

func encodeHelperRaw(m Message) ([]byte, error) {
	e := encoderPool.Get().(*encoder)
	defer encoderPool.Put(e)
	e.reset()
	e.now = helperTime
	e.newID = func() string { return "id-1" }
	e.library = `"library":{"name":"test"}`
	if err := encodeMessage(e, m); err != nil {
		return nil, err
	}
	return bytes.Clone(e.buf), nil
}

// mustEncode encodes m and fails the test on an error.
func mustEncode(t *testing.T, m Message) map[string]any {
	t.Helper()
	out, err := encodeHelper(m)
	if err != nil {
		t.Fatalf("%T: %v", m, err)
	}
	return out
}

func props(t *testing.T, msg map[string]any) map[string]any {
	t.Helper()
	p, ok := msg["properties"].(map[string]any)
	if !ok {
		t.Fatalf("no properties in %v", msg)
	}
	return p
}

func TestHelperValidation(t *testing.T) {
	device := Device{Token: "tok", Type: DeviceTypeIOS}
	tests := []struct {
		name   string
		msg    Message
		event  string
		field  string
		reason string // a part of the reason
	}{
		{"no identity", OrderCompleted{}, "Order Completed", "userId", "userId or anonymousId is required"},
		{"anonymous only where userId is required", CreateOrUpdateDevice{AnonymousID: "a", Device: device}, "Device Created or Updated", "userId", "userId is required"},
		{"suppress without userId or email", SuppressPerson{AnonymousID: "a"}, "User Suppressed", "userId", "userId or an email is required"},
		{"delete person without userId or email", DeletePerson{AnonymousID: "a"}, "User Deleted", "userId", "userId or an email is required"},
		{"delete person with blank userId and email", DeletePerson{UserID: " ", Email: "\t"}, "User Deleted", "userId", "userId or an email is required"},
		{"content with only a userId", ReportContentEvent{UserID: "u", ActionType: ContentActionTypeViewedContent}, "Report Content Event", "anonymousId", "only by anonymousId"},
		{"delivery metric the action does not take", ReportDeliveryEvent{UserID: "u", DeliveryID: "d", Metric: "failed"}, "Report Delivery Event", "properties.metric", `not "failed"`},
		{"bad device type on a lifecycle event", ApplicationInstalled{UserID: "u", DeviceToken: "t", DeviceType: "windows"}, "Application Installed", "context.device.type", `not "windows"`},
		{"numeric objectTypeId in Extra that disagrees", DeleteObject{UserID: "u", ObjectID: "acme", ObjectTypeID: "2", Extra: Properties{"object_type_id": 3.0}}, "Object Deleted", "properties.objectTypeId", "disagrees with properties.object_type_id 3"},
		{"fractional objectTypeId in Extra", DeleteRelationship{UserID: "u", ObjectID: "acme", Extra: Properties{"objectTypeId": 1.5}}, "Relationship Deleted", "properties.objectTypeId", "positive integer"},
		{"device without userId", CreateOrUpdateDevice{AnonymousID: "a", Device: device}, "Device Created or Updated", "userId", "userId is required"},
		{"device without token", CreateOrUpdateDevice{UserID: "u", Device: Device{Type: DeviceTypeIOS}}, "Device Created or Updated", "properties.device.token", "is required"},
		{"blank device token", DeleteDevice{UserID: "u", Device: Device{Token: "  "}}, "Device Deleted", "properties.device.token", "is required"},
		{"bad device type", CreateOrUpdateDevice{UserID: "u", Device: Device{Token: "t", Type: "windows"}}, "Device Created or Updated", "properties.device.type", `must be one of "ios", "android", not "windows"`},
		{"relationship without objectId", DeleteRelationship{UserID: "u"}, "Relationship Deleted", "properties.objectId", "is required"},
		{"object without objectId", DeleteObject{UserID: "u", ObjectTypeID: "1"}, "Object Deleted", "properties.objectId", "is required"},
		{"objectTypeId not an integer", DeleteObject{UserID: "u", ObjectID: "acme", ObjectTypeID: "accounts"}, "Object Deleted", "properties.objectTypeId", "positive integer"},
		{"delivery without deliveryId", ReportDeliveryEvent{UserID: "u", Metric: DeliveryMetricOpened}, "Report Delivery Event", "properties.deliveryId", "is required"},
		{"delivery without metric", ReportDeliveryEvent{UserID: "u", DeliveryID: "d"}, "Report Delivery Event", "properties.metric", "is required"},
		{"content without actionType", ReportContentEvent{AnonymousID: "a"}, "Report Content Event", "properties.actionType", "is required"},
		{"bad content actionType", ReportContentEvent{AnonymousID: "a", ActionType: "liked_content"}, "Report Content Event", "properties.actionType", `must be one of "viewed_content", "clicked_content", not "liked_content"`},
		{"bad ad type", VideoPlaybackStarted{UserID: "u", AdType: "pre_roll"}, "Video Playback Started", "properties.ad_type", `must be one of "pre-roll", "mid-roll", "post-roll", not "pre_roll"`},
		{"bad ad load type", VideoAdStarted{UserID: "u", LoadType: "static"}, "Video Ad Started", "properties.load_type", `not "static"`},
		{"sound 101", VideoPlaybackStarted{UserID: "u", Sound: Int(101)}, "Video Playback Started", "properties.sound", "must be between 0 and 100, not 101"},
		{"sound -1", VideoPlaybackPaused{UserID: "u", Sound: Int(-1)}, "Video Playback Paused", "properties.sound", "must be between 0 and 100, not -1"},
		{"NaN total", OrderCompleted{UserID: "u", Total: Float64(math.NaN())}, "Order Completed", "properties.total", "no JSON form"},
		{"infinite price in the second product", OrderCompleted{UserID: "u", Products: []Product{{Price: Float64(1)}, {Price: Float64(math.Inf(1))}}}, "Order Completed", "properties.products[1].price", "no JSON form"},
		{"bad value in a product's Extra", CartViewed{UserID: "u", Products: []Product{{Extra: Properties{"ch": make(chan int)}}}}, "Cart Viewed", "properties.products[0].ch", "unsupported"},
		{"bad value in Extra", ProductViewed{UserID: "u", Extra: Properties{"f": func() {}}}, "Product Viewed", "properties.f", "unsupported"},
		{"bad value in an object property", VideoAdPlaying{UserID: "u", Content: map[string]any{"n": math.NaN()}}, "Video Ad Playing", "properties.content.n", "no JSON form"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := encodeHelper(tt.msg)
			if !errors.Is(err, ErrInvalidMessage) {
				t.Fatalf("error %v, want ErrInvalidMessage", err)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T is not a *ValidationError", err)
			}
			if ve.Type != "track" || ve.Event != tt.event || ve.Field != tt.field || !strings.Contains(ve.Reason, tt.reason) {
				t.Errorf("got type %q event %q field %q reason %q;\nwant track %q %q containing %q", ve.Type, ve.Event, ve.Field, ve.Reason, tt.event, tt.field, tt.reason)
			}
			if !strings.Contains(err.Error(), tt.event) || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("message %q does not name the event and the field", err)
			}
		})
	}
}

func TestHelperValidEdges(t *testing.T) {
	for _, m := range []Message{
		VideoPlaybackStarted{UserID: "u", Sound: Int(0)},
		VideoPlaybackStarted{UserID: "u", Sound: Int(100), AdType: AdTypePostRoll},
		ReportDeliveryEvent{AnonymousID: "a", DeliveryID: "d", Metric: DeliveryMetricBounced, Reason: "mailbox full"},
		DeleteObject{UserID: "u", ObjectID: "acme", ObjectTypeID: "2", Extra: Properties{"object_type_id": 2.0}},
		DeleteRelationship{UserID: "u", ObjectID: "acme", Extra: Properties{"objectTypeId": json.Number("4")}},
		DeleteObject{AnonymousID: "system", ObjectID: "acme"},
		DeletePerson{Email: "cool.person@example.com"},
		ApplicationBackgrounded{AnonymousID: "a"},
	} {
		if _, err := encodeHelper(m); err != nil {
			t.Errorf("%T: %v", m, err)
		}
	}
}

func TestHelperExplicitZero(t *testing.T) {
	p := props(t, mustEncode(t, ProductViewed{UserID: "u", ProductID: "free-sample", Price: Float64(0), Quantity: Int(0), Position: Float64(0)}))
	for _, k := range []string{"price", "quantity", "position"} {
		if v, ok := p[k]; !ok || v != 0.0 {
			t.Errorf("%s = %v (sent: %v), want an explicit 0", k, v, ok)
		}
	}
	for _, k := range []string{"sku", "value", "currency"} {
		if _, ok := p[k]; ok {
			t.Errorf("%s sent although its field is empty", k)
		}
	}

	p = props(t, mustEncode(t, OrderCompleted{UserID: "u", Products: []Product{{ProductID: "a", Price: Float64(0), Position: Float64(0)}}}))
	prod := p["products"].([]any)[0].(map[string]any)
	if prod["price"] != 0.0 || prod["position"] != 0.0 {
		t.Errorf("product = %v, want price 0 and position 0", prod)
	}

	p = props(t, mustEncode(t, VideoPlaybackPaused{UserID: "u", Position: Int(0), Sound: Int(0), FullScreen: Bool(false)}))
	if p["position"] != 0.0 || p["sound"] != 0.0 || p["full_screen"] != false {
		t.Errorf("properties = %v, want position 0, sound 0, full_screen false", p)
	}

	// Nothing set: no properties object at all.
	msg := mustEncode(t, SuppressPerson{UserID: "u"})
	if _, ok := msg["properties"]; ok {
		t.Errorf("empty properties sent: %v", msg)
	}
}

func TestHelperExtra(t *testing.T) {
	// A typed field that is set wins over the same key in Extra; other
	// Extra keys are kept.
	p := props(t, mustEncode(t, ProductViewed{UserID: "u", SKU: "typed", Price: Float64(0), Extra: Properties{"sku": "extra", "price": 9.99, "custom": 1}}))
	if p["sku"] != "typed" || p["price"] != 0.0 || p["custom"] != 1.0 {
		t.Errorf("properties = %v, want the typed sku and price and the custom key", p)
	}
	// An Extra key is kept when its typed field is unset, including a null
	// (video total_length on a livestream).
	p = props(t, mustEncode(t, ProductViewed{UserID: "u", Extra: Properties{"sku": "extra", "price": 9.99}}))
	if p["sku"] != "extra" || p["price"] != 9.99 {
		t.Errorf("properties = %v, want sku and price from Extra", p)
	}
	p = props(t, mustEncode(t, VideoPlaybackStarted{UserID: "u", Livestream: Bool(true), Extra: Properties{"total_length": nil}}))
	if v, ok := p["total_length"]; !ok || v != nil {
		t.Errorf("total_length = %v (sent: %v), want null from Extra", v, ok)
	}
	// Same for shapes.
	p = props(t, mustEncode(t, CartViewed{UserID: "u", Products: []Product{{SKU: "typed", Extra: Properties{"sku": "extra", "color": "red"}}, {Extra: Properties{"sku": "extra"}}}}))
	prods := p["products"].([]any)
	if a, b := prods[0].(map[string]any), prods[1].(map[string]any); a["sku"] != "typed" || a["color"] != "red" || b["sku"] != "extra" {
		t.Errorf("products = %v", prods)
	}
	// The raw JSON has no duplicate key.
	raw, err := encodeHelperRaw(ProductViewed{UserID: "u", SKU: "typed", Extra: Properties{"sku": "extra"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(raw, []byte(`"sku"`)); n != 1 {
		t.Errorf("sku written %d times: %s", n, raw)
	}
}

// TestDeletePersonByEmail: a person named by email alone is sent with the
// email as userId, where Customer.io's actions read the person (and look an
// email-shaped id up as an email), and as properties.email; a blank UserID
// counts as absent, so the email is the userId then too.
func TestDeletePersonByEmail(t *testing.T) {
	for _, m := range []Message{
		DeletePerson{Email: "cool.person@example.com"},
		DeletePerson{UserID: "  ", Email: "cool.person@example.com"},
		SuppressPerson{Email: "cool.person@example.com"},
		UnsuppressPerson{UserID: "\t", Email: "cool.person@example.com"},
		DeleteRelationship{Email: "cool.person@example.com", ObjectID: "acme", ObjectTypeID: "2"},
	} {
		msg := mustEncode(t, m)
		if msg["userId"] != "cool.person@example.com" {
			t.Errorf("%T: userId = %v, want the email", m, msg["userId"])
		}
		if p := props(t, msg); p["email"] != "cool.person@example.com" {
			t.Errorf("%T: properties = %v, want email", m, p)
		}
	}
	msg := mustEncode(t, DeletePerson{Email: "cool.person@example.com"})
	if msg["event"] != "User Deleted" {
		t.Errorf("event = %v, want the accepted value \"User Deleted\", not the action title", msg["event"])
	}
	// With both, the UserID is the userId; the email is still sent.
	msg = mustEncode(t, DeletePerson{UserID: "42", Email: "cool.person@example.com", Extra: Properties{"email": "other@example.com"}})
	if msg["userId"] != "42" || props(t, msg)["email"] != "cool.person@example.com" {
		t.Errorf("message = %v", msg)
	}
}

// TestBlankIDsNotSent: an identifier that is blank after trimming counts as
// absent in validation and is never sent, for every message type.
func TestBlankIDsNotSent(t *testing.T) {
	for _, m := range []Message{
		Identify{UserID: " ", AnonymousID: "a", Traits: Traits{"email": "x@example.com"}},
		Track{UserID: "\t", AnonymousID: "a", Event: "Signed Up"},
		Page{UserID: " ", AnonymousID: "a"},
		Screen{UserID: "a", AnonymousID: "  "},
		Group{UserID: " ", AnonymousID: "a", GroupID: "acme"},
		OrderCompleted{UserID: " ", AnonymousID: "a"},
		ReportContentEvent{UserID: " ", AnonymousID: "a", ActionType: ContentActionTypeClickedContent},
		DeletePerson{UserID: "u", AnonymousID: " ", Email: " "},
		// The device token and app version, which go to context only when
		// not blank, are not sent blank in properties either.
		ApplicationInstalled{UserID: "u", DeviceToken: " ", Version: "\t"},
		ApplicationUninstalled{UserID: "u", DeviceToken: "  "},
	} {
		raw, err := encodeHelperRaw(m)
		if err != nil {
			t.Errorf("%T: %v", m, err)
			continue
		}
		var msg map[string]any
		if err := json.Unmarshal(raw, &msg); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"userId", "anonymousId"} {
			if v, ok := msg[k]; ok && blank(v.(string)) {
				t.Errorf("%T: blank %s sent: %s", m, k, raw)
			}
		}
		if p, _ := msg["properties"].(map[string]any); p != nil {
			for _, k := range []string{"email", "device_id", "version"} {
				if _, ok := p[k]; ok {
					t.Errorf("%T: blank properties.%s sent: %s", m, k, raw)
				}
			}
		}
	}
}

func TestDeviceInPropertiesAndContext(t *testing.T) {
	active := true
	caller := &Context{
		IP:     "203.0.113.7",
		Active: &active,
		Device: &DeviceInfo{ID: "d-1", Model: "Pixel 9", Type: "android", Token: "old-token"},
		Extra:  map[string]any{"device": "ignored: Device is set"},
	}
	before := *caller
	beforeDevice := *caller.Device

	msg := mustEncode(t, CreateOrUpdateDevice{
		UserID:  "42",
		Device:  Device{Token: "new-token", Type: DeviceTypeIOS, Extra: Properties{"app_version": "1.2.3", "token": "ignored"}},
		Context: caller,
	})
	pd := props(t, msg)["device"].(map[string]any)
	want := map[string]any{"token": "new-token", "type": "ios", "app_version": "1.2.3"}
	if !reflect.DeepEqual(pd, want) {
		t.Errorf("properties.device = %v, want %v", pd, want)
	}
	ctx := msg["context"].(map[string]any)
	cd := ctx["device"].(map[string]any)
	want = map[string]any{"id": "d-1", "model": "Pixel 9", "token": "new-token", "type": "ios"}
	if !reflect.DeepEqual(cd, want) {
		t.Errorf("context.device = %v, want %v", cd, want)
	}
	if ctx["ip"] != "203.0.113.7" || ctx["active"] != true {
		t.Errorf("context = %v, want the caller's other fields", ctx)
	}
	if !reflect.DeepEqual(*caller, before) || !reflect.DeepEqual(*caller.Device, beforeDevice) {
		t.Errorf("the caller's Context was changed: %+v, device %+v", caller, caller.Device)
	}

	// Without a Context; a device without a type keeps none.
	msg = mustEncode(t, DeleteDevice{UserID: "42", Device: Device{Token: "tok"}})
	if cd := msg["context"].(map[string]any)["device"]; !reflect.DeepEqual(cd, map[string]any{"token": "tok"}) {
		t.Errorf("context.device = %v", cd)
	}
	if msg["event"] != "Device Deleted" {
		t.Errorf("event = %v", msg["event"])
	}
	// A device without a type keeps the caller's.
	msg = mustEncode(t, DeleteDevice{UserID: "42", Device: Device{Token: "tok"}, Context: &Context{Device: &DeviceInfo{Type: "android"}}})
	if cd := msg["context"].(map[string]any)["device"]; !reflect.DeepEqual(cd, map[string]any{"token": "tok", "type": "android"}) {
		t.Errorf("context.device = %v", cd)
	}
}

func TestIdentifyRelatesToObject(t *testing.T) {
	msg := mustEncode(t, Identify{
		UserID:                 "97980cfea0067",
		Traits:                 Traits{"email": "cool.person@example.com", "objectId": "ignored", "plan": "premium"},
		ObjectID:               "math101-2024",
		ObjectTypeID:           "2",
		RelationshipAttributes: map[string]any{"grade": "A-"},
	})
	traits := msg["traits"].(map[string]any)
	want := map[string]any{
		"email": "cool.person@example.com", "plan": "premium",
		"objectId": "math101-2024", "objectTypeId": "2",
		"relationshipAttributes": map[string]any{"grade": "A-"},
	}
	if !reflect.DeepEqual(traits, want) {
		t.Errorf("traits = %v, want %v", traits, want)
	}
	for _, tt := range []struct {
		m     Identify
		field string
	}{
		{Identify{UserID: "u", ObjectTypeID: "2"}, "traits.objectId"},
		{Identify{UserID: "u", RelationshipAttributes: map[string]any{"a": 1}}, "traits.objectId"},
		{Identify{UserID: "u", ObjectID: "o", ObjectTypeID: "0"}, "traits.objectTypeId"},
		{Identify{UserID: "u", ObjectID: "o", RelationshipAttributes: map[string]any{"n": math.Inf(-1)}}, "traits.relationshipAttributes.n"},
	} {
		var ve *ValidationError
		if _, err := encodeHelper(tt.m); !errors.As(err, &ve) || ve.Field != tt.field {
			t.Errorf("%+v: error %v, want one for %s", tt.m, err, tt.field)
		}
	}
	// objectId given as a trait is enough for the typed type and attributes.
	if _, err := encodeHelper(Identify{UserID: "u", Traits: Traits{"objectId": "o"}, ObjectTypeID: "3"}); err != nil {
		t.Error(err)
	}
}

// benchOrder returns an Order Completed with two products, as a typed
// helper and as the equivalent Track with maps.
func benchOrder() (OrderCompleted, Track) {
	typed := OrderCompleted{
		UserID:     "97980cfea0067",
		OrderID:    "50314b8e9bcf000000000000",
		CheckoutID: "fksdjfsdjfisjf9sdfjsd9f",
		Total:      Float64(27.5),
		Revenue:    Float64(25),
		Shipping:   Float64(3),
		Tax:        Float64(2),
		Discount:   Float64(2.5),
		Coupon:     "hasbros",
		Currency:   "USD",
		Products: []Product{
			{ProductID: "507f1f77bcf86cd799439011", SKU: "45790-32", Name: "Monopoly: 3rd Edition", Price: Float64(19), Quantity: Int(1), Category: "Games", URL: "https://www.example.com/product/path"},
			{ProductID: "505bd76785ebb509fc183733", SKU: "46493-32", Name: "Uno Card Game", Price: Float64(3), Quantity: Int(2), Category: "Games"},
		},
		Timestamp: helperTime,
		MessageID: "order-1",
	}
	track := Track{
		UserID: "97980cfea0067",
		Event:  "Order Completed",
		Properties: Properties{
			"order_id":    "50314b8e9bcf000000000000",
			"checkout_id": "fksdjfsdjfisjf9sdfjsd9f",
			"total":       27.5,
			"revenue":     25.0,
			"shipping":    3.0,
			"tax":         2.0,
			"discount":    2.5,
			"coupon":      "hasbros",
			"currency":    "USD",
			"products": []any{
				map[string]any{"product_id": "507f1f77bcf86cd799439011", "sku": "45790-32", "name": "Monopoly: 3rd Edition", "price": 19.0, "quantity": 1, "category": "Games", "url": "https://www.example.com/product/path"},
				map[string]any{"product_id": "505bd76785ebb509fc183733", "sku": "46493-32", "name": "Uno Card Game", "price": 3.0, "quantity": 2, "category": "Games"},
			},
		},
		Timestamp: helperTime,
		MessageID: "order-1",
	}
	return typed, track
}

// TestOrderCompletedMatchesTrack checks that the benchmark compares equal
// messages.
func TestOrderCompletedMatchesTrack(t *testing.T) {
	typed, track := benchOrder()
	a, b := mustEncode(t, typed), mustEncode(t, track)
	if !reflect.DeepEqual(a, b) {
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		t.Errorf("typed and map encodings differ:\n%s\n%s", ja, jb)
	}
}

// BenchmarkHelperEncode compares encoding (as Enqueue does it, without the
// queue) an Order Completed with two products as the typed helper and as a
// Track with a map.
func BenchmarkHelperEncode(b *testing.B) {
	typed, track := benchOrder()
	for _, bc := range []struct {
		name string
		msg  Message
	}{
		{"OrderCompleted", typed},
		{"TrackMap", track},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			size := 0
			for b.Loop() {
				e := encoderPool.Get().(*encoder)
				e.reset()
				e.now = helperTime
				e.library = `"library":{"name":"github.com/cdpkit/analytics-go","version":"0.1.0"}`
				if err := encodeMessage(e, bc.msg); err != nil {
					b.Fatal(err)
				}
				size = len(e.buf)
				encoderPool.Put(e)
			}
			b.SetBytes(int64(size))
		})
	}
}
