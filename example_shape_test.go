package analytics_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"

	analytics "github.com/cdpkit/analytics-go"
)

// printSent prints what a client made with WithOutput wrote to out: for
// every message, its call and the parts of it named by keys, as JSON
// (context.library, the same on every message, is left out).
func printSent(out *bytes.Buffer, keys ...string) {
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		var msg map[string]any
		if err := json.Unmarshal(lines.Bytes(), &msg); err != nil {
			fmt.Println(err)
			return
		}
		if ctx, ok := msg["context"].(map[string]any); ok {
			delete(ctx, "library")
		}
		parts := []string{fmt.Sprint(msg["type"])}
		if ev, ok := msg["event"]; ok {
			parts[0] += fmt.Sprintf(" %q", ev)
		}
		for _, k := range keys {
			if v, ok := msg[k]; ok {
				b, _ := json.Marshal(v)
				parts = append(parts, k+"="+string(b))
			}
		}
		fmt.Println(strings.Join(parts, " "))
	}
}

// A service sets once what is true of every message it sends. A message's
// own context wins, field by field; maps merge by key.
func ExampleWithDefaultContext() {
	var out bytes.Buffer
	client, err := analytics.New("", append(exampleOptions(),
		analytics.WithOutput(&out), // instead of the API, for this example
		analytics.WithDefaultContext(analytics.Context{
			App:     &analytics.AppInfo{Name: "billing", Version: "4.2.0"},
			Channel: analytics.ChannelServer,
			Traits:  analytics.Traits{"tenant": "acme"},
		}))...)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = client.Enqueue(analytics.Track{UserID: "42", Event: "Invoice Paid"})
	_ = client.Enqueue(analytics.Track{UserID: "42", Event: "Invoice Sent", Context: &analytics.Context{
		App:    &analytics.AppInfo{Build: "971"},
		Traits: analytics.Traits{"plan": "pro"},
	}})
	if err := client.Close(); err != nil {
		fmt.Println(err)
	}
	printSent(&out, "context")
	// Output:
	// track "Invoice Paid" context={"app":{"name":"billing","version":"4.2.0"},"channel":"server","traits":{"tenant":"acme"}}
	// track "Invoice Sent" context={"app":{"build":"971","name":"billing","version":"4.2.0"},"channel":"server","traits":{"plan":"pro","tenant":"acme"}}
}

// Personal data that must not leave the service is removed from every
// message, at any depth, before it is encoded. A typed helper's fields
// are where they go on the wire: a DeletePerson's email is properties.email.
func ExampleRedactKeys() {
	var out bytes.Buffer
	client, err := analytics.New("", append(exampleOptions(),
		analytics.WithOutput(&out),
		analytics.WithTransform(analytics.RedactKeys("email", "phone")))...)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = client.Enqueue(analytics.Identify{UserID: "42", Traits: analytics.Traits{
		"email":   "ada@example.com",
		"plan":    "pro",
		"contact": map[string]any{"Phone": "+44 20 7946 0000", "city": "London"},
	}})
	_ = client.Enqueue(analytics.DeletePerson{UserID: "42", Email: "ada@example.com"})
	// An identify named by its email alone has nothing left to name the
	// person: it is refused, not sent.
	err = client.Enqueue(analytics.Identify{Traits: analytics.Traits{"email": "ada@example.com"}})
	fmt.Println(err)
	if err := client.Close(); err != nil {
		fmt.Println(err)
	}
	printSent(&out, "userId", "traits", "properties")
	// Output:
	// analytics: invalid identify: userId: userId, anonymousId or traits.email is required
	// identify userId="42" traits={"contact":{"city":"London"},"plan":"pro"}
	// track "User Deleted" userId="42"
}

// A sampler keeps a share of the noisiest events. It never samples what
// changes people or devices: identify, group, alias, and the events of
// Customer.io's actions, such as "User Deleted".
func ExampleSampleEvents() {
	var out bytes.Buffer
	client, err := analytics.New("", append(exampleOptions(),
		analytics.WithOutput(&out),
		analytics.WithTransform(analytics.SampleEvents(0.1, "Page Scrolled")))...)
	if err != nil {
		fmt.Println(err)
		return
	}
	for range 1000 {
		_ = client.Enqueue(analytics.Track{UserID: "42", Event: "Page Scrolled"})
	}
	_ = client.Enqueue(analytics.Track{UserID: "42", Event: "Signed Up"})
	_ = client.Enqueue(analytics.DeletePerson{UserID: "7"})
	if err := client.Close(); err != nil {
		fmt.Println(err)
	}
	st := client.Stats()
	fmt.Printf("sent %d, dropped by the sampler %d\n", st.Delivered, st.DroppedByTransform)
	fmt.Println("Signed Up sent:", strings.Contains(out.String(), `"Signed Up"`))
	fmt.Println("User Deleted sent:", strings.Contains(out.String(), `"User Deleted"`))
	// Output:
	// sent 99, dropped by the sampler 903
	// Signed Up sent: true
	// User Deleted sent: true
}

// Behind a load balancer, the middleware takes the caller's address from
// X-Forwarded-For, right to left, skipping the proxies it is told to
// trust: what the client wrote into the header itself is never believed.
// EnqueueContext with the request's context then fills the context fields
// the message leaves empty.
func ExampleMiddleware() {
	var out bytes.Buffer
	client, err := analytics.New("", append(exampleOptions(), analytics.WithOutput(&out))...)
	if err != nil {
		fmt.Println(err)
		return
	}
	loadBalancers := netip.MustParsePrefix("10.0.0.0/8")
	handler := analytics.Middleware(loadBalancers)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := client.EnqueueContext(r.Context(), analytics.Track{UserID: "42", Event: "Cart Viewed"})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}))

	req := httptest.NewRequest("GET", "https://shop.example.com/cart?step=2", nil)
	req.RemoteAddr = "10.0.3.7:41000" // the load balancer
	// A client claimed 1.2.3.4; the load balancer appended the address
	// it saw.
	req.Header.Set("X-Forwarded-For", "1.2.3.4, 198.51.100.20")
	req.Header.Set("User-Agent", "Mozilla/5.0")
	req.Header.Set("Accept-Language", "de-CH, de;q=0.9, en;q=0.8")
	handler.ServeHTTP(httptest.NewRecorder(), req)

	if err := client.Close(); err != nil {
		fmt.Println(err)
	}
	printSent(&out, "context")
	// Output:
	// track "Cart Viewed" context={"ip":"198.51.100.20","locale":"de-CH","page":{"path":"/cart","search":"?step=2","url":"https://shop.example.com/cart?step=2"},"userAgent":"Mozilla/5.0"}
}

// In development, in CI, or on a host with no route to the API, the client
// writes every message as a line of JSON instead of sending it, and needs
// no API key. The lines are exactly what the API would get; `cdp import`
// sends a file of them later.
func ExampleWithOutput() {
	var out bytes.Buffer // os.Stdout, or a file
	client, err := analytics.New("", append(exampleOptions(), analytics.WithOutput(&out))...)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = client.Enqueue(analytics.Identify{UserID: "42", Traits: analytics.Traits{"plan": "pro"}})
	_ = client.Enqueue(analytics.OrderCompleted{UserID: "42", OrderID: "o-1", Total: analytics.Ptr(27.5)})
	// Invalid messages are refused as usual.
	fmt.Println(client.Enqueue(analytics.Track{UserID: "42"}))
	if err := client.Close(); err != nil {
		fmt.Println(err)
	}
	fmt.Println("written:", client.Stats().Delivered)
	printSent(&out, "messageId", "timestamp", "traits", "properties")
	// Output:
	// analytics: invalid track: event: event name is required
	// written: 2
	// identify messageId="m1" timestamp="2026-01-02T03:04:05.000Z" traits={"plan":"pro"}
	// track "Order Completed" messageId="m2" timestamp="2026-01-02T03:04:05.000Z" properties={"order_id":"o-1","total":27.5}
}

// A transform is a function: this one drops the events of a load test
// and marks every other event with the deployment that sent it.
func ExampleTransform() {
	var out bytes.Buffer
	markDeployment := func(e *analytics.Envelope) bool {
		if e.Type != "track" {
			return true
		}
		if strings.HasPrefix(e.UserID, "loadtest-") {
			return false // dropped: Enqueue returns nil
		}
		e.Properties["deployment"] = "blue"
		return true
	}
	client, err := analytics.New("", append(exampleOptions(),
		analytics.WithOutput(&out),
		analytics.WithTransform(markDeployment))...)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = client.Enqueue(analytics.Track{UserID: "loadtest-17", Event: "Signed Up"})
	_ = client.Enqueue(analytics.Track{UserID: "42", Event: "Signed Up"})
	_ = client.Enqueue(analytics.OrderCompleted{UserID: "42", OrderID: "o-1"})
	if err := client.Close(); err != nil {
		fmt.Println(err)
	}
	printSent(&out, "userId", "properties")
	// Output:
	// track "Signed Up" userId="42" properties={"deployment":"blue"}
	// track "Order Completed" userId="42" properties={"deployment":"blue","order_id":"o-1"}
}
