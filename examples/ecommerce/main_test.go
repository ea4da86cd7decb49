package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

func TestRunOffline(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, ""); err != nil {
		t.Fatal(err)
	}
	want := `CDP_API_KEY is not set: sending to a fake Data Pipelines API in process
delivered 6 of 6 events
  Product Viewed     {"currency":"EUR","product_id":"p-1"}
  Product Added      {"product_id":"p-1","quantity":2}
  Product Viewed     {"currency":"EUR","product_id":"p-2"}
  Product Added      {"product_id":"p-2","quantity":1}
  Checkout Started   {"currency":"EUR","order_id":"order-1001","products":2}
  Order Completed    {"currency":"EUR","order_id":"order-1001","products":2,"subtotal":26.9,"total":37.26}
`
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}

// TestCheckout decodes what the fake received back into the typed helpers
// and compares it with what the checkout should send.
func TestCheckout(t *testing.T) {
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey("k"))
	client, err := analytics.New("k", analytics.WithEndpoint(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	order := Order{
		ID: "o-1", CheckoutID: "c-1", Currency: "USD",
		Lines:    []Line{{Item{ID: "p-9", SKU: "S9", Name: "Kettle", Category: "Kitchen", Price: 40}, 1}},
		Shipping: 5, Tax: 3.2,
	}
	if err := Checkout(client, "u-7", order); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	var events []string
	for _, m := range srv.Messages() {
		events = append(events, m.Event)
	}
	if want := []string{"Product Viewed", "Product Added", "Checkout Started", "Order Completed"}; !reflect.DeepEqual(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}

	orders, err := analyticstest.MessagesAs[analytics.OrderCompleted](srv.Recorder)
	if err != nil || len(orders) != 1 {
		t.Fatalf("orders %+v, %v", orders, err)
	}
	got := orders[0]
	got.MessageID, got.Timestamp = "", time.Time{} // filled in by the client
	want := analytics.OrderCompleted{
		UserID: "u-7", OrderID: "o-1", CheckoutID: "c-1", Currency: "USD",
		Subtotal: analytics.Ptr(40.0), Total: analytics.Ptr(48.2), Revenue: analytics.Ptr(40.0),
		Shipping: analytics.Ptr(5.0), Tax: analytics.Ptr(3.2), Discount: analytics.Ptr(0.0),
		Products: []analytics.Product{{
			ProductID: "p-9", SKU: "S9", Name: "Kettle", Category: "Kitchen",
			Price: analytics.Ptr(40.0), Quantity: analytics.Ptr(1), Position: analytics.Ptr(1.0),
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Order Completed\n%+v\nwant\n%+v", got, want)
	}
	added, err := analyticstest.MessagesAs[analytics.ProductAdded](srv.Recorder)
	if err != nil || len(added) != 1 || *added[0].Quantity != 1 || added[0].CartID != "c-1" {
		t.Errorf("Product Added %+v, %v", added, err)
	}
}

func TestOrderTotals(t *testing.T) {
	if s, tot := sampleOrder.Subtotal(), sampleOrder.Total(); s != 26.9 || tot != 37.26 {
		t.Errorf("subtotal %v, total %v; want 26.9, 37.26", s, tot)
	}
}

// TestNotDelivered: with the API down until the deadline, run reports the
// six events as not delivered.
func TestNotDelivered(t *testing.T) {
	srv := analyticstest.NewServer(t)
	srv.SetDefault(analyticstest.Response{Status: 503})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := run(ctx, io.Discard, "k",
		analytics.WithEndpoint(srv.URL),
		analytics.WithRetry(analytics.RetryPolicy{WaitMin: time.Millisecond, WaitMax: 10 * time.Millisecond}),
		analytics.WithLogger(slog.New(slog.DiscardHandler)))
	var de *analytics.DeliveryError
	if !errors.As(err, &de) || de.Undelivered != 6 {
		t.Errorf("run: %v, want 6 events not delivered", err)
	}
	if len(srv.Messages()) != 0 || len(srv.Requests()) < 2 {
		t.Errorf("%d requests, %d accepted messages", len(srv.Requests()), len(srv.Messages()))
	}
}
