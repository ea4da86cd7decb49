// Command ecommerce sends a checkout flow with the typed helpers: Product
// Viewed, Product Added, Checkout Started and Order Completed.
//
//	go run ./examples/ecommerce
//
// Without CDP_API_KEY in the environment it sends to a fake Data Pipelines
// API in process and prints what that fake received; with CDP_API_KEY it
// sends to Customer.io (CDP_REGION=eu for the EU). It exits with status 1
// if an event was not delivered.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

func main() {
	key, region := strings.TrimSpace(os.Getenv("CDP_API_KEY")), analytics.RegionUS
	if strings.EqualFold(os.Getenv("CDP_REGION"), "eu") {
		region = analytics.RegionEU
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx, os.Stdout, key, analytics.WithRegion(region))
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ecommerce:", err)
		os.Exit(1)
	}
}

// Item is a product in the shop's catalog.
type Item struct {
	ID, SKU, Name, Category string
	Price                   float64
}

// Line is an item in a cart.
type Line struct {
	Item     Item
	Quantity int
}

// Order is what the shop knows about a checkout.
type Order struct {
	ID, CheckoutID, Currency string
	Lines                    []Line
	Shipping, Tax            float64
	Coupon                   string
	Discount                 float64
}

// Subtotal is the price of the lines less the discount.
func (o Order) Subtotal() float64 {
	var s float64
	for _, l := range o.Lines {
		s += l.Item.Price * float64(l.Quantity)
	}
	return round(s - o.Discount)
}

// Total is what the customer pays.
func (o Order) Total() float64 { return round(o.Subtotal() + o.Shipping + o.Tax) }

func round(v float64) float64 { return math.Round(v*100) / 100 }

// products converts the order's lines into the helpers' Product.
func (o Order) products() []analytics.Product {
	ps := make([]analytics.Product, len(o.Lines))
	for i, l := range o.Lines {
		ps[i] = analytics.Product{
			ProductID: l.Item.ID,
			SKU:       l.Item.SKU,
			Name:      l.Item.Name,
			Category:  l.Item.Category,
			Price:     analytics.Ptr(l.Item.Price),
			Quantity:  analytics.Ptr(l.Quantity),
			Position:  analytics.Ptr(float64(i + 1)),
		}
	}
	return ps
}

// Checkout sends the events of one customer's checkout: they view and add
// each line's product, start the checkout and complete the order.
func Checkout(client *analytics.Client, userID string, o Order) error {
	var errs []error
	send := func(m analytics.Message) { errs = append(errs, client.Enqueue(m)) }
	for _, l := range o.Lines {
		send(analytics.ProductViewed{
			UserID: userID, ProductID: l.Item.ID, SKU: l.Item.SKU, Name: l.Item.Name,
			Category: l.Item.Category, Price: analytics.Ptr(l.Item.Price), Currency: o.Currency,
		})
		send(analytics.ProductAdded{
			UserID: userID, ProductID: l.Item.ID, SKU: l.Item.SKU, Name: l.Item.Name,
			Category: l.Item.Category, Price: analytics.Ptr(l.Item.Price),
			Quantity: analytics.Ptr(l.Quantity), CartID: o.CheckoutID,
		})
	}
	send(analytics.CheckoutStarted{
		UserID:   userID,
		OrderID:  o.ID,
		Value:    analytics.Ptr(o.Subtotal()),
		Revenue:  analytics.Ptr(o.Subtotal()),
		Shipping: analytics.Ptr(o.Shipping),
		Tax:      analytics.Ptr(o.Tax),
		Coupon:   o.Coupon,
		Currency: o.Currency,
		Products: o.products(),
	})
	send(analytics.OrderCompleted{
		UserID:     userID,
		OrderID:    o.ID,
		CheckoutID: o.CheckoutID,
		Subtotal:   analytics.Ptr(o.Subtotal()),
		Total:      analytics.Ptr(o.Total()),
		Revenue:    analytics.Ptr(o.Subtotal()),
		Shipping:   analytics.Ptr(o.Shipping),
		Tax:        analytics.Ptr(o.Tax),
		Discount:   analytics.Ptr(o.Discount),
		Coupon:     o.Coupon,
		Currency:   o.Currency,
		Products:   o.products(),
	})
	return errors.Join(errs...)
}

// sampleOrder is the order the command sends.
var sampleOrder = Order{
	ID: "order-1001", CheckoutID: "checkout-77", Currency: "EUR",
	Lines: []Line{
		{Item{ID: "p-1", SKU: "MUG-BLK", Name: "Black mug", Category: "Kitchen", Price: 12.5}, 2},
		{Item{ID: "p-2", SKU: "TEA-EG", Name: "Earl Grey, 100 g", Category: "Tea", Price: 6.9}, 1},
	},
	Coupon: "WELCOME5", Discount: 5, Shipping: 4.9, Tax: 5.46,
}

// run sends the sample checkout with key, or to an in-process fake whose
// messages it prints when key is empty, and waits for delivery until ctx
// ends.
func run(ctx context.Context, w io.Writer, key string, opts ...analytics.Option) error {
	var fake *analyticstest.Server
	if key == "" {
		fake = analyticstest.NewServer(nil) // with a nil testing.TB, we must Close it
		defer fake.Close()
		key = "offline-key"
		opts = append(opts, analytics.WithEndpoint(fake.URL))
		fmt.Fprintln(w, "CDP_API_KEY is not set: sending to a fake Data Pipelines API in process")
	}
	client, err := analytics.New(key, opts...)
	if err != nil {
		return err
	}
	err = errors.Join(Checkout(client, "42", sampleOrder), client.Shutdown(ctx))
	st := client.Stats()
	fmt.Fprintf(w, "delivered %d of %d events\n", st.Delivered, st.Enqueued)
	if fake != nil {
		for _, m := range fake.Messages() {
			props, _ := json.Marshal(summary(m.Properties))
			fmt.Fprintf(w, "  %-18s %s\n", m.Event, props)
		}
	}
	return err
}

// summary keeps the properties worth a glance, for printing.
func summary(p map[string]any) map[string]any {
	s := map[string]any{}
	for _, k := range []string{"product_id", "quantity", "order_id", "subtotal", "total", "currency"} {
		if v, ok := p[k]; ok {
			s[k] = v
		}
	}
	if ps, ok := p["products"].([]any); ok {
		s["products"] = len(ps)
	}
	return s
}
