package catalog

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func mustLoad(t *testing.T) *Catalog {
	t.Helper()
	c, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func mustEvent(t *testing.T, c *Catalog, name string) *Event {
	t.Helper()
	e := c.Event(name)
	if e == nil {
		t.Fatalf("event %q missing", name)
	}
	return e
}

func mustProp(t *testing.T, e *Event, key string) *Property {
	t.Helper()
	p := e.Property(key)
	if p == nil {
		t.Fatalf("event %q: property %q missing", e.Name, key)
	}
	return p
}

func TestLoad(t *testing.T) {
	c := mustLoad(t)
	if len(c.Notes) == 0 {
		t.Error("no notes: the seed contradictions must be recorded")
	}
}

func TestCounts(t *testing.T) {
	c := mustLoad(t)
	want := map[string]int{
		"customerio": 9,
		"ecommerce":  28,
		"ab":         1,
		"email":      5,
		"livechat":   4,
		"lifecycle":  7,
		"video":      16,
	}
	total := 0
	for fam, n := range want {
		if got := len(c.EventsIn(fam)); got != n {
			t.Errorf("family %s: %d events, want %d", fam, got, n)
		}
		total += n
	}
	if total != 70 || len(c.Events) != total {
		t.Errorf("%d events, want %d (=70)", len(c.Events), total)
	}
	groups := map[string]int{}
	for _, e := range c.EventsIn("video") {
		groups[e.Group]++
	}
	if groups["playback"] != 10 || groups["content"] != 3 || groups["ad"] != 3 {
		t.Errorf("video groups = %v, want playback 10, content 3, ad 3", groups)
	}
}

func TestCustomerIOActions(t *testing.T) {
	c := mustLoad(t)
	want := map[string]string{
		"User Deleted":              "DeletePerson",
		"User Suppressed":           "SuppressPerson",
		"User Unsuppressed":         "UnsuppressPerson",
		"Device Created or Updated": "CreateOrUpdateDevice",
		"Device Deleted":            "DeleteDevice",
		"Relationship Deleted":      "DeleteRelationship",
		"Object Deleted":            "DeleteObject",
		"Report Delivery Event":     "ReportDeliveryEvent",
		"Report Content Event":      "ReportContentEvent",
	}
	for _, e := range c.EventsIn("customerio") {
		if g, ok := want[e.Name]; !ok || g != e.GoName {
			t.Errorf("action %q has goName %q, want %q", e.Name, e.GoName, g)
		}
	}

	if e := mustEvent(t, c, "User Deleted"); !e.EmailIdentity || !e.UserIDRequired {
		t.Errorf("User Deleted: emailIdentity=%v userIdRequired=%v, want both true", e.EmailIdentity, e.UserIDRequired)
	}
	for _, name := range []string{"User Suppressed", "User Unsuppressed", "Device Created or Updated", "Device Deleted"} {
		if e := mustEvent(t, c, name); !e.UserIDRequired {
			t.Errorf("%s: userIdRequired false", name)
		}
	}

	for _, name := range []string{"Relationship Deleted", "Object Deleted"} {
		e := mustEvent(t, c, name)
		if p := mustProp(t, e, "objectId"); !p.Required || p.Type != TypeString {
			t.Errorf("%s objectId = %+v, want required string", name, *p)
		}
		if p := mustProp(t, e, "objectTypeId"); p.Default != "1" || p.Required {
			t.Errorf("%s objectTypeId = %+v, want optional with default \"1\"", name, *p)
		}
	}

	for _, name := range []string{"Device Created or Updated", "Device Deleted"} {
		e := mustEvent(t, c, name)
		p := mustProp(t, e, "device")
		if p.Type != "Device" || !p.Required || p.Placement() != InPropertiesAndContext {
			t.Errorf("%s device = %+v, want required Device in properties+context", name, *p)
		}
	}
	dev := c.Shapes["Device"]
	if p := dev.Property("token"); p == nil || !p.Required {
		t.Error("Device.token missing or optional")
	}
	if p := dev.Property("type"); p == nil || !slices.Equal(p.Enum, []string{"ios", "android"}) {
		t.Errorf("Device.type enum = %v, want exactly [ios android]", p)
	}

	rd := mustEvent(t, c, "Report Delivery Event")
	for _, k := range []string{"deliveryId", "metric", "recipient", "actionName", "actionValue", "href", "reason"} {
		mustProp(t, rd, k)
	}
	if got := mustProp(t, rd, "metric").Enum; !slices.Equal(got, []string{"delivered", "opened", "clicked", "converted", "spammed", "bounced", "dropped", "deferred"}) {
		t.Errorf("metric enum = %v, want the eight the destination's action accepts", got)
	}
	if e := mustEvent(t, c, "Report Content Event"); !e.AnonymousIDRequired {
		t.Error("Report Content Event: anonymousIdRequired false; the action reads the person only from anonymousId")
	}
	for _, name := range []string{"User Deleted", "User Suppressed", "User Unsuppressed", "Relationship Deleted"} {
		if e := mustEvent(t, c, name); !e.EmailIdentity {
			t.Errorf("%s: emailIdentity false; the person may be named by email", name)
		}
	}
	if p := mustProp(t, mustEvent(t, c, "Report Content Event"), "actionType"); len(p.Enum) == 0 {
		t.Error("Report Content Event actionType has no enum")
	}
}

// TestActions: the 15 actions of the Journeys destination are recorded,
// each Customer.io event and each lifecycle device event triggers the
// action that acts on it, and the device actions read the token and
// platform from context.device.
func TestActions(t *testing.T) {
	c := mustLoad(t)
	if len(c.Actions) != 15 {
		t.Errorf("%d actions, want the destination's 15", len(c.Actions))
	}
	for event, key := range map[string]string{
		"Application Installed":   "createUpdateDevice",
		"Application Opened":      "createUpdateDevice",
		"Application Uninstalled": "deleteDevice",
		"User Deleted":            "deletePerson",
		"Report Content Event":    "reportContentEvent",
	} {
		as := c.ActionsFor("track", event)
		if len(as) != 1 || as[0].Key != key {
			t.Errorf("%s triggers %v, want %s", event, as, key)
		}
	}
	if as := c.ActionsFor("track", "Order Completed"); len(as) != 0 {
		t.Errorf("Order Completed triggers %v, want no semantic action", as)
	}
	dev := c.Action("createUpdateDevice")
	var required []string
	for _, f := range dev.Fields {
		if f.Required {
			required = append(required, f.Paths...)
		}
	}
	if !slices.Equal(required, []string{"userId", "context.device.token", "context.device.type"}) {
		t.Errorf("createUpdateDevice requires %v", required)
	}
	if a := c.Action("createUpdateObject"); a == nil || !slices.Equal(a.Fields[1].Paths, []string{"traits.object_type_id", "traits.objectTypeId"}) {
		t.Errorf("createUpdateObject = %+v, want object_type_id read from traits.object_type_id then traits.objectTypeId", a)
	}
}

func TestSpotChecks(t *testing.T) {
	c := mustLoad(t)

	vps := mustEvent(t, c, "Video Playback Started")
	if vps.GoName != "VideoPlaybackStarted" || vps.Group != "playback" {
		t.Errorf("Video playback started: goName %q group %q", vps.GoName, vps.Group)
	}
	sound := mustProp(t, vps, "sound")
	if sound.Type != TypeInteger || sound.Max == nil || *sound.Max != 100 || sound.Min == nil || *sound.Min != 0 {
		t.Errorf("sound = %+v, want integer 0..100", *sound)
	}
	if p := mustProp(t, vps, "ad_type"); !slices.Equal(p.Enum, []string{"pre-roll", "mid-roll", "post-roll"}) {
		t.Errorf("ad_type enum = %v", p.Enum)
	}
	if p := mustProp(t, mustEvent(t, c, "Video Ad Playing"), "load_type"); !slices.Equal(p.Enum, []string{"dynamic", "linear"}) {
		t.Errorf("load_type enum = %v", p.Enum)
	}

	oc := mustEvent(t, c, "Order Completed")
	if p := mustProp(t, oc, "products"); p.Type != "Product[]" {
		t.Errorf("Order Completed products type %q, want Product[]", p.Type)
	}
	if p := mustProp(t, oc, "order_id"); p.GoName != "OrderID" {
		t.Errorf("order_id goName %q", p.GoName)
	}
	prod := c.Shapes["Product"]
	if p := prod.Property("sku"); p == nil || p.GoName != "SKU" {
		t.Errorf("Product.sku = %v, want goName SKU", p)
	}
	if p := prod.Property("image_url"); p == nil || p.GoName != "ImageURL" {
		t.Errorf("Product.image_url = %v, want goName ImageURL", p)
	}

	w := mustEvent(t, c, "Product Added to Wishlist")
	if w.GoName != "ProductAddedToWishlist" {
		t.Errorf("Product Added to Wishlist goName %q", w.GoName)
	}
	mustProp(t, w, "sku")

	if e := mustEvent(t, c, "Experiment Viewed"); e.Family != "ab" || e.Property("variation_id") == nil {
		t.Errorf("Experiment Viewed: family %q, variation_id %v", e.Family, e.Property("variation_id"))
	}
	for name, goName := range map[string]string{
		"Products Searched":          "ProductsSearched",
		"Email Marked as Spam":       "EmailMarkedAsSpam",
		"Live Chat Message Sent":     "LiveChatMessageSent",
		"Application Installed":      "ApplicationInstalled",
		"Video Ad Completed":         "VideoAdCompleted",
		"Product List Filtered":      "ProductListFiltered",
		"Video Content Playing":      "VideoContentPlaying",
		"Application Uninstalled":    "ApplicationUninstalled",
		"Checkout Step Completed":    "CheckoutStepCompleted",
		"Live Chat Message Received": "LiveChatMessageReceived",
	} {
		if e := mustEvent(t, c, name); e.GoName != goName {
			t.Errorf("%s goName %q, want %q", name, e.GoName, goName)
		}
	}
}

// TestEmptyEvents guards against empty events slipping in: only
// the lifecycle events the seed says have no default properties, and the
// person actions whose only input is the person, may have no properties.
func TestEmptyEvents(t *testing.T) {
	c := mustLoad(t)
	allowed := []string{
		"User Deleted", "User Suppressed", "User Unsuppressed",
		"Application Backgrounded", "Application Foregrounded", "Application Crashed",
	}
	for _, e := range c.Events {
		if len(e.Properties) == 0 && !slices.Contains(allowed, e.Name) {
			t.Errorf("event %q has no properties", e.Name)
		}
	}
}

func TestParseRejects(t *testing.T) {
	base := func() map[string]any {
		var m map[string]any
		if err := json.Unmarshal(JSON(), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	firstEvent := func(m map[string]any) map[string]any { return m["events"].([]any)[0].(map[string]any) }
	firstProp := func(m map[string]any, i int) map[string]any {
		return m["events"].([]any)[i].(map[string]any)["properties"].([]any)[0].(map[string]any)
	}
	// ix returns the index of the named event.
	ix := func(m map[string]any, name string) int {
		for i, e := range m["events"].([]any) {
			if e.(map[string]any)["name"] == name {
				return i
			}
		}
		t.Fatalf("no %q", name)
		return -1
	}

	cases := map[string]func(m map[string]any){
		"unknown field":  func(m map[string]any) { firstEvent(m)["colour"] = "red" },
		"unknown family": func(m map[string]any) { firstEvent(m)["family"] = "sms" },
		"duplicate name": func(m map[string]any) {
			evs := m["events"].([]any)
			evs[1].(map[string]any)["name"] = evs[0].(map[string]any)["name"]
		},
		"duplicate goName": func(m map[string]any) {
			evs := m["events"].([]any)
			evs[1].(map[string]any)["goName"] = evs[0].(map[string]any)["goName"]
		},
		"bad goName":    func(m map[string]any) { firstEvent(m)["goName"] = "order completed" },
		"unknown type":  func(m map[string]any) { firstProp(m, ix(m, "Order Completed"))["type"] = "money" },
		"missing shape": func(m map[string]any) { firstProp(m, ix(m, "Order Completed"))["type"] = "Coupon[]" },
		"empty enum":    func(m map[string]any) { firstProp(m, ix(m, "Products Searched"))["enum"] = []any{} },
		"bad placement": func(m map[string]any) { firstProp(m, ix(m, "Products Searched"))["in"] = "traits" },
		"reserved goName": func(m map[string]any) {
			firstProp(m, ix(m, "Products Searched"))["goName"] = "MessageID"
		},
		"bad default": func(m map[string]any) {
			firstEvent(m)["properties"] = []any{map[string]any{
				"key": "n", "goName": "N", "type": "integer", "default": "one", "doc": "x",
			}}
		},
		"action trigger not in catalog": func(m map[string]any) {
			a := m["actions"].([]any)[8].(map[string]any)
			a["trigger"].(map[string]any)["events"] = []any{"User Erased"}
		},
		"action without fields": func(m map[string]any) { m["actions"].([]any)[0].(map[string]any)["fields"] = []any{} },
		"event of no action": func(m map[string]any) {
			m["actions"] = m["actions"].([]any)[:14] // drops Report Content Event
		},
		"bad context path": func(m map[string]any) {
			firstProp(m, ix(m, "Products Searched"))["context"] = "device"
		},
		"video without group": func(m map[string]any) {
			delete(m["events"].([]any)[ix(m, "Video Ad Playing")].(map[string]any), "group")
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			m := base()
			mutate(m)
			data, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(data)
			if err == nil {
				t.Fatal("Parse accepted a broken catalog")
			}
			t.Log(err)
		})
	}

	t.Run("trailing data", func(t *testing.T) {
		if _, err := Parse(append(JSON(), []byte(" {}")...)); err == nil {
			t.Error("Parse accepted trailing data")
		}
	})
}

// TestNamesAreClean checks wire names and keys have no stray spaces, which
// the API would trim and so never match.
func TestNamesAreClean(t *testing.T) {
	c := mustLoad(t)
	for _, e := range c.Events {
		for _, p := range e.Properties {
			if p.Key != strings.TrimSpace(p.Key) || strings.Contains(p.Key, " ") {
				t.Errorf("%s: key %q has spaces", e.Name, p.Key)
			}
		}
	}
	if !bytes.Equal(JSON(), catalogJSON) {
		t.Error("JSON() differs from the embedded file")
	}
}
