package analyticstest_test

import (
	"fmt"
	"net/http"
	"strings"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

// post sends a batch body the way the analytics client does.
func post(client *http.Client, url, body string) {
	req, err := http.NewRequest(http.MethodPost, url+"/batch", strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	req.SetBasicAuth("test-key", "") // the API key as user, no password
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	resp.Body.Close()
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		fmt.Println("status:", resp.StatusCode, "Retry-After:", ra)
		return
	}
	fmt.Println("status:", resp.StatusCode)
}

func ExampleNewServer() {
	// In a test, pass t: the server is then closed when the test ends, and
	// a request that breaks the wire protocol fails the test.
	srv := analyticstest.NewServer(nil, analyticstest.WithAPIKey("test-key"))
	defer srv.Close()

	// Normally the client under test sends this, to srv.URL.
	post(http.DefaultClient, srv.URL, `{"batch":[
		{"type":"identify","messageId":"m1","userId":"42","traits":{"plan":"pro"}},
		{"type":"track","messageId":"m2","userId":"42","event":"Order Completed","properties":{"total":30}}
	],"sentAt":"2026-01-02T03:04:05.000Z"}`)

	for _, req := range srv.Requests() {
		fmt.Println("request:", req.Path, req.APIKey, req.SentAt.Format("2006-01-02T15:04:05Z"))
	}
	for _, m := range srv.Messages() {
		fmt.Println("message:", m)
	}
	order := srv.ByEvent("Order Completed")[0]
	fmt.Println("total:", order.Properties["total"])
	// Output:
	// status: 200
	// request: /v1/batch test-key 2026-01-02T03:04:05Z
	// message: identify user=42
	// message: track "Order Completed" user=42
	// total: 30
}

func ExampleRecorder_Script() {
	tr := analyticstest.NewTransport(nil)
	defer tr.Close()

	tr.Script(
		analyticstest.Response{Status: 500},
		analyticstest.Response{Status: 429, RetryAfter: "1"},
	)
	body := `{"batch":[{"type":"track","messageId":"m1","userId":"42","event":"Signed Up"}]}`
	for range 3 {
		post(tr.Client(), tr.URL, body) // a client retrying the same batch
	}

	for _, req := range tr.Requests() {
		fmt.Println("request", req.Index, "answered", req.Status, "accepted:", req.Accepted)
	}
	fmt.Println("messages received:", len(tr.Messages()))
	// Output:
	// status: 500
	// status: 429 Retry-After: 1
	// status: 200
	// request 0 answered 500 accepted: false
	// request 1 answered 429 accepted: false
	// request 2 answered 200 accepted: true
	// messages received: 1
}

func ExampleMessagesAs() {
	srv := analyticstest.NewServer(nil)
	defer srv.Close()
	client, err := analytics.New("test-key", analytics.WithEndpoint(srv.URL))
	if err != nil {
		panic(err)
	}
	// The code under test sends a typed helper...
	_ = client.Enqueue(analytics.OrderCompleted{
		UserID:   "42",
		OrderID:  "o-1",
		Total:    analytics.Ptr(30.0),
		Products: []analytics.Product{{ProductID: "p-1", Quantity: analytics.Ptr(2)}},
	})
	if err := client.Close(); err != nil {
		panic(err)
	}

	// ...and the test reads it back as one.
	orders, err := analyticstest.MessagesAs[analytics.OrderCompleted](srv.Recorder)
	if err != nil {
		panic(err)
	}
	o := orders[0]
	fmt.Println(o.UserID, o.OrderID, *o.Total, o.Products[0].ProductID, *o.Products[0].Quantity)
	// Output:
	// 42 o-1 30 p-1 2
}
