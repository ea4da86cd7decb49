package benchmarks

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
