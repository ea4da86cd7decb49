package benchmarks

import (
	"fmt"
	"math/rand/v2"
)

// The events every client sends. Each adapter converts these plain values
// into its own message types on every call, as a user would on every request.

type product struct {
	ProductID string
	SKU       string
	Name      string
	Price     float64
	Quantity  int
}

type orderCompleted struct {
	UserID   string
	OrderID  string
	Total    float64
	Revenue  float64
	Currency string
	Products []product
}

var order = orderCompleted{
	UserID:   "user-8f14e45fceea167a",
	OrderID:  "50314b8e9bcf000000000000",
	Total:    27.5,
	Revenue:  25,
	Currency: "USD",
	Products: []product{
		{ProductID: "507f1f77bcf86cd799439011", SKU: "45790-32", Name: "Monopoly: 3rd Edition", Price: 19, Quantity: 1},
		{ProductID: "505bd76785ebb509fc183733", SKU: "46493-32", Name: "Uno Card Game", Price: 3, Quantity: 2},
	},
}

const orderEvent = "Order Completed"

// The map-based track with 3 properties.
const (
	track3UserID = "user-8f14e45fceea167a"
	track3Event  = "Button Clicked"
	track3Button = "checkout"
	track3Plan   = "pro"
	track3Items  = 3
)

// The identify with 5 traits.
const (
	identifyUserID   = "user-8f14e45fceea167a"
	identifyEmail    = "ada@example.com"
	identifyName     = "Ada Lovelace"
	identifyPlan     = "pro"
	identifyLogins   = 42
	identifyVerified = true
)

// variedOrders are realistic, varied Order Completed events for the gzip
// benchmark: 4,096 different users, order ids, carts of 1-4 products from a
// catalog of 64, prices in cents and three currencies, drawn from a fixed
// seed. Sending one event over and over would compress 12:1, which no real
// stream does.
var variedOrders = func() []orderCompleted {
	r := rand.New(rand.NewPCG(1, 2))
	adjectives := []string{"Classic", "Deluxe", "Travel", "Junior", "Collector's", "Pocket", "Family", "Retro"}
	nouns := []string{"Chess Set", "Puzzle 1000 pieces", "Card Game", "Board Game", "Dice Tower", "Jigsaw Mat", "Trivia Deck", "Word Game"}
	type item struct {
		id, sku, name string
		price         float64
	}
	catalog := make([]item, 64)
	for i := range catalog {
		catalog[i] = item{
			id:    fmt.Sprintf("%024x", r.Uint64()),
			sku:   fmt.Sprintf("%05d-%02d", r.IntN(100000), r.IntN(100)),
			name:  adjectives[r.IntN(len(adjectives))] + " " + nouns[r.IntN(len(nouns))],
			price: float64(99+r.IntN(9900)) / 100,
		}
	}
	currencies := []string{"USD", "EUR", "GBP"}
	orders := make([]orderCompleted, 4096)
	for i := range orders {
		o := orderCompleted{
			UserID:   fmt.Sprintf("user-%016x", r.Uint64()),
			OrderID:  fmt.Sprintf("%024x", r.Uint64()),
			Currency: currencies[r.IntN(len(currencies))],
		}
		for range 1 + r.IntN(4) {
			it := catalog[r.IntN(len(catalog))]
			p := product{ProductID: it.id, SKU: it.sku, Name: it.name, Price: it.price, Quantity: 1 + r.IntN(5)}
			o.Products = append(o.Products, p)
			o.Total += p.Price * float64(p.Quantity)
		}
		o.Total = float64(int(o.Total*100+0.5)) / 100
		o.Revenue = float64(int(o.Total*90+0.5)) / 100
		orders[i] = o
	}
	return orders
}()
