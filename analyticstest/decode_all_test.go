package analyticstest_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/cdpkit/analytics-go/internal/catalog"
)

// everyHelper lists the zero value of every typed helper, in catalog order.
// TestAsEveryHelper fails if the catalog gains an event missing here.
func everyHelper() []analytics.Message {
	return []analytics.Message{
		analytics.CreateOrUpdateDevice{},
		analytics.DeleteDevice{},
		analytics.DeletePerson{},
		analytics.SuppressPerson{},
		analytics.UnsuppressPerson{},
		analytics.DeleteRelationship{},
		analytics.DeleteObject{},
		analytics.ReportDeliveryEvent{},
		analytics.ReportContentEvent{},
		analytics.ProductsSearched{},
		analytics.ProductListViewed{},
		analytics.ProductListFiltered{},
		analytics.ProductClicked{},
		analytics.ProductViewed{},
		analytics.ProductAdded{},
		analytics.ProductRemoved{},
		analytics.CartViewed{},
		analytics.CheckoutStarted{},
		analytics.CheckoutStepViewed{},
		analytics.CheckoutStepCompleted{},
		analytics.PaymentInfoEntered{},
		analytics.OrderCompleted{},
		analytics.OrderUpdated{},
		analytics.OrderRefunded{},
		analytics.OrderCancelled{},
		analytics.PromotionViewed{},
		analytics.PromotionClicked{},
		analytics.CouponEntered{},
		analytics.CouponApplied{},
		analytics.CouponDenied{},
		analytics.CouponRemoved{},
		analytics.ProductAddedToWishlist{},
		analytics.ProductRemovedFromWishlist{},
		analytics.WishlistProductAddedToCart{},
		analytics.ProductShared{},
		analytics.CartShared{},
		analytics.ProductReviewed{},
		analytics.ExperimentViewed{},
		analytics.EmailBounced{},
		analytics.EmailDelivered{},
		analytics.EmailOpened{},
		analytics.EmailMarkedAsSpam{},
		analytics.EmailUnsubscribed{},
		analytics.LiveChatConversationStarted{},
		analytics.LiveChatConversationEnded{},
		analytics.LiveChatMessageSent{},
		analytics.LiveChatMessageReceived{},
		analytics.ApplicationInstalled{},
		analytics.ApplicationOpened{},
		analytics.ApplicationBackgrounded{},
		analytics.ApplicationForegrounded{},
		analytics.ApplicationUpdated{},
		analytics.ApplicationUninstalled{},
		analytics.ApplicationCrashed{},
		analytics.VideoPlaybackStarted{},
		analytics.VideoPlaybackPaused{},
		analytics.VideoPlaybackInterrupted{},
		analytics.VideoPlaybackBufferStarted{},
		analytics.VideoPlaybackBufferCompleted{},
		analytics.VideoPlaybackSeekStarted{},
		analytics.VideoPlaybackSeekCompleted{},
		analytics.VideoPlaybackResumed{},
		analytics.VideoPlaybackCompleted{},
		analytics.VideoPlaybackExited{},
		analytics.VideoContentStarted{},
		analytics.VideoContentPlaying{},
		analytics.VideoContentCompleted{},
		analytics.VideoAdStarted{},
		analytics.VideoAdPlaying{},
		analytics.VideoAdCompleted{},
	}
}

// TestAsEveryHelper fills every field of every typed helper with a value
// the catalog allows, sends it through a real client to the fake, and
// checks that As decodes exactly what was sent.
func TestAsEveryHelper(t *testing.T) {
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	helpers := map[string]analytics.Message{}
	for _, h := range everyHelper() {
		helpers[reflect.TypeOf(h).Name()] = h
	}
	if len(helpers) != len(cat.Events) {
		t.Errorf("%d helpers listed, %d events in the catalog", len(helpers), len(cat.Events))
	}

	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey))
	client := newClient(t, srv.URL)
	var sent []analytics.Message
	for i := range cat.Events {
		ev := &cat.Events[i]
		zero, ok := helpers[ev.GoName]
		if !ok {
			t.Errorf("event %q: analytics.%s is not listed in everyHelper", ev.Name, ev.GoName)
			continue
		}
		v := reflect.New(reflect.TypeOf(zero)).Elem()
		f := filler{cat: cat, n: i * 100}
		f.message(t, v, ev)
		msg := v.Interface().(analytics.Message)
		if err := client.Enqueue(msg); err != nil {
			t.Errorf("Enqueue(%s): %v", ev.GoName, err)
			continue
		}
		sent = append(sent, msg)
	}
	if err := flush(t, client); err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != len(sent) {
		t.Fatalf("received %d messages, sent %d", len(got), len(sent))
	}
	for i, want := range sent {
		p := reflect.New(reflect.TypeOf(want))
		if err := got[i].As(p.Interface()); err != nil {
			t.Errorf("%T: %v", want, err)
			continue
		}
		if !reflect.DeepEqual(p.Elem().Interface(), want) {
			t.Errorf("%T decoded\n%+v\nwant\n%+v\nraw %s", want, p.Elem().Interface(), want, got[i].Raw)
		}
	}
}

// filler sets fields to values the catalog allows, each distinct.
type filler struct {
	cat *catalog.Catalog
	n   int
}

func (f *filler) next() int { f.n++; return f.n }

func (f *filler) message(t *testing.T, v reflect.Value, ev *catalog.Event) {
	for i := range v.NumField() {
		name, dst := v.Type().Field(i).Name, v.Field(i)
		switch name {
		case "UserID":
			dst.SetString(fmt.Sprint("user-", f.next()))
		case "AnonymousID":
			dst.SetString(fmt.Sprint("anon-", f.next()))
		case "Email":
			dst.SetString(fmt.Sprintf("p%d@example.com", f.next()))
		case "Timestamp":
			dst.Set(reflect.ValueOf(fixedTime.Add(-time.Hour)))
		case "MessageID":
			dst.SetString(fmt.Sprint("msg-", f.next()))
		case "Context":
			dst.Set(reflect.ValueOf(&analytics.Context{Locale: "en-GB", App: &analytics.AppInfo{Name: "shop"}}))
		case "Integrations":
			dst.Set(reflect.ValueOf(analytics.Integrations{"Customer.io": true}))
		case "Extra":
			dst.Set(reflect.ValueOf(analytics.Properties{"extra_key": fmt.Sprint("extra-", f.next())}))
		default:
			p := findProp(ev.Properties, name)
			if p == nil {
				t.Fatalf("%s.%s is not in the catalog", ev.GoName, name)
			}
			f.property(t, dst, *p)
		}
	}
}

func findProp(ps []catalog.Property, goName string) *catalog.Property {
	for i := range ps {
		if ps[i].GoName == goName {
			return &ps[i]
		}
	}
	return nil
}

func (f *filler) property(t *testing.T, dst reflect.Value, p catalog.Property) {
	if dst.Kind() == reflect.Pointer {
		dst.Set(reflect.New(dst.Type().Elem()))
		dst = dst.Elem()
	}
	if p.IsArray() {
		elem := p
		elem.Type = p.ElemType()
		s := reflect.MakeSlice(dst.Type(), 2, 2)
		for i := range 2 {
			f.property(t, s.Index(i), elem)
		}
		dst.Set(s)
		return
	}
	if shape, ok := f.cat.Shapes[p.Type]; ok {
		for i := range dst.NumField() {
			name, fd := dst.Type().Field(i).Name, dst.Field(i)
			if name == "Extra" {
				fd.Set(reflect.ValueOf(analytics.Properties{"shape_extra": float64(f.next())}))
				continue
			}
			sp := findProp(shape.Properties, name)
			if sp == nil {
				t.Fatalf("%s.%s is not in the catalog", p.Type, name)
			}
			f.property(t, fd, *sp)
		}
		return
	}
	n := f.next()
	switch p.Type {
	case catalog.TypeString:
		s := fmt.Sprintf("%s-%d", p.Key, n)
		switch {
		case len(p.Enum) > 0:
			s = p.Enum[n%len(p.Enum)]
		case p.Key == "objectTypeId":
			s = fmt.Sprint(n) // a stringified integer
		}
		dst.SetString(s)
	case catalog.TypeInteger:
		i := n
		if p.Max != nil && float64(i) > *p.Max {
			i = int(*p.Max)
		}
		dst.SetInt(int64(i))
	case catalog.TypeNumber:
		x := float64(n) + 0.25
		if p.Max != nil && x > *p.Max {
			x = *p.Max
		}
		dst.SetFloat(x)
	case catalog.TypeBoolean:
		dst.SetBool(n%2 == 0)
	case catalog.TypeDateTime:
		dst.Set(reflect.ValueOf(fixedTime.Add(time.Duration(n) * time.Second)))
	case catalog.TypeObject:
		dst.Set(reflect.ValueOf(map[string]any{"k": float64(n), "s": "v"}).Convert(dst.Type()))
	case catalog.TypeAny:
		dst.Set(reflect.ValueOf(fmt.Sprint("any-", n)))
	default:
		t.Fatalf("property %s: type %s not handled", p.Key, p.Type)
	}
}
