package analytics_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	analytics "github.com/cdpkit/analytics-go"
)

// newExampleClient returns a client that sends to a loopback Data Pipelines
// API, with a fixed clock and message ids, and a function that stops the
// server and returns the messages it received, in order.
func newExampleClient() (*analytics.Client, func() []map[string]any) {
	var (
		mu       sync.Mutex
		received []map[string]any
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct {
			Batch []map[string]any `json:"batch"`
		}
		if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		received = append(received, env.Batch...)
		mu.Unlock()
	}))
	client, err := analytics.New("example-api-key",
		analytics.WithEndpoint(srv.URL),
		analytics.WithTimestamps(func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }),
		analytics.WithMessageIDs(func() string { return "example-id" }),
	)
	if err != nil {
		panic(err)
	}
	return client, func() []map[string]any {
		srv.Close()
		mu.Lock()
		defer mu.Unlock()
		return received
	}
}

// printMessage prints the event of msg and the named parts of it that were
// sent, as JSON with sorted keys. A path may name a key of context, such as
// "context.device".
func printMessage(msg map[string]any, parts ...string) {
	fmt.Println(msg["event"])
	for _, part := range parts {
		v, ok := msg[part]
		if part == "context.device" {
			ctx, _ := msg["context"].(map[string]any)
			v, ok = ctx["device"]
		}
		if !ok {
			continue
		}
		b, _ := json.Marshal(v)
		fmt.Printf("  %s: %s\n", part, b)
	}
}

func ExampleDeletePerson() {
	client, received := newExampleClient()

	// Delete a person by ID or, when only their email address is known, by
	// email: the email is then sent as the userId, where Customer.io reads
	// the person and looks an email address up as one. The event sent is
	// "User Deleted", the name Customer.io accepts.
	_ = client.Enqueue(analytics.DeletePerson{UserID: "97980cfea0067"})
	_ = client.Enqueue(analytics.DeletePerson{Email: "cool.person@example.com"})

	// A call that names nobody is rejected before anything is sent.
	err := client.Enqueue(analytics.DeletePerson{})
	fmt.Println(errors.Is(err, analytics.ErrInvalidMessage), err)

	// A script must know that every call reached the API before it exits.
	if err := client.Close(); err != nil {
		fmt.Println("not delivered:", err)
	}
	for _, msg := range received() {
		printMessage(msg, "userId", "properties")
	}
	// Output:
	// true analytics: invalid track "User Deleted": userId: userId or an email is required for this event (without a userId the email is sent as the userId)
	// User Deleted
	//   userId: "97980cfea0067"
	// User Deleted
	//   userId: "cool.person@example.com"
	//   properties: {"email":"cool.person@example.com"}
}

func ExampleCreateOrUpdateDevice() {
	client, received := newExampleClient()

	// The device the message was sent from, as the app knows it.
	ctx := &analytics.Context{Device: &analytics.DeviceInfo{Manufacturer: "Apple", Model: "iPhone16,1"}}

	// The device is sent in properties.device and, merged into a copy of
	// ctx.Device, in context.device: Customer.io's documents disagree about
	// which one it reads.
	_ = client.Enqueue(analytics.CreateOrUpdateDevice{
		UserID: "97980cfea0067",
		Device: analytics.Device{
			Token: "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad",
			Type:  analytics.DeviceTypeIOS,
			Extra: analytics.Properties{"app_version": "2.4.1"},
		},
		Context: ctx,
	})

	// A device needs its token.
	err := client.Enqueue(analytics.DeleteDevice{UserID: "97980cfea0067"})
	fmt.Println(err)

	if err := client.Close(); err != nil {
		fmt.Println("not delivered:", err)
	}
	for _, msg := range received() {
		printMessage(msg, "properties", "context.device")
	}
	fmt.Println("caller's Context changed:", ctx.Device.Token != "")
	// Output:
	// analytics: invalid track "Device Deleted": properties.device.token: is required
	// Device Created or Updated
	//   properties: {"device":{"app_version":"2.4.1","token":"740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad","type":"ios"}}
	//   context.device: {"manufacturer":"Apple","model":"iPhone16,1","token":"740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad","type":"ios"}
	// caller's Context changed: false
}

func ExampleOrderCompleted() {
	client, received := newExampleClient()

	// Numbers are pointers, so that an explicit zero, like the price of a
	// free item, is sent; a nil number is not sent.
	_ = client.Enqueue(analytics.OrderCompleted{
		UserID:   "97980cfea0067",
		OrderID:  "50314b8e9bcf000000000000",
		Total:    analytics.Ptr(38.0),
		Currency: "USD",
		Products: []analytics.Product{
			{ProductID: "507f1f77bcf86cd799439011", SKU: "45790-32", Name: "Monopoly: 3rd Edition", Price: analytics.Ptr(19.0), Quantity: analytics.Ptr(2)},
			{ProductID: "505bd76785ebb509fc183733", SKU: "46493-32", Name: "Gift wrap", Price: analytics.Ptr(0.0), Quantity: analytics.Ptr(1)},
		},
		// Anything the helper has no field for.
		Extra: analytics.Properties{"gift": true},
	})

	if err := client.Close(); err != nil {
		fmt.Println("not delivered:", err)
	}
	for _, msg := range received() {
		printMessage(msg, "properties")
	}
	// Output:
	// Order Completed
	//   properties: {"currency":"USD","gift":true,"order_id":"50314b8e9bcf000000000000","products":[{"name":"Monopoly: 3rd Edition","price":19,"product_id":"507f1f77bcf86cd799439011","quantity":2,"sku":"45790-32"},{"name":"Gift wrap","price":0,"product_id":"505bd76785ebb509fc183733","quantity":1,"sku":"46493-32"}],"total":38}
}

func ExampleVideoPlaybackStarted() {
	client, received := newExampleClient()

	// The event name is sent exactly as the specification spells it:
	// "Video Playback Started". Playback starts at position 0, which is
	// sent because it is set.
	_ = client.Enqueue(analytics.VideoPlaybackStarted{
		AnonymousID:     "507f191e810c19729de860ea",
		SessionID:       "12345",
		ContentAssetIDs: []string{"0129370"},
		AdType:          analytics.AdTypePreRoll,
		Position:        analytics.Ptr(0),
		TotalLength:     analytics.Ptr(392),
		Sound:           analytics.Ptr(88),
		FullScreen:      analytics.Ptr(false),
		VideoPlayer:     "youtube",
	})

	// The sound is a percentage.
	err := client.Enqueue(analytics.VideoPlaybackStarted{AnonymousID: "507f191e810c19729de860ea", Sound: analytics.Ptr(101)})
	fmt.Println(err)

	if err := client.Close(); err != nil {
		fmt.Println("not delivered:", err)
	}
	for _, msg := range received() {
		printMessage(msg, "anonymousId", "properties")
	}
	// Output:
	// analytics: invalid track "Video Playback Started": properties.sound: must be between 0 and 100, not 101
	// Video Playback Started
	//   anonymousId: "507f191e810c19729de860ea"
	//   properties: {"ad_type":"pre-roll","content_asset_ids":["0129370"],"full_screen":false,"position":0,"session_id":"12345","sound":88,"total_length":392,"video_player":"youtube"}
}
