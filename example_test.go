package analytics_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

// exampleOptions makes the examples deterministic: a fixed clock, message
// ids m1, m2, ..., and no logging.
func exampleOptions() []analytics.Option {
	var n atomic.Int64
	return []analytics.Option{
		analytics.WithClock(func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }),
		analytics.WithMessageIDs(func() string { return fmt.Sprintf("m%d", n.Add(1)) }),
		analytics.WithLogger(slog.New(slog.DiscardHandler)),
	}
}

func ExampleNew() {
	// A fake Data Pipelines API stands in for Customer.io here. In a
	// program, leave out WithEndpoint and pick the region:
	//
	//	client, err := analytics.New(os.Getenv("CDP_API_KEY"), analytics.WithRegion(analytics.RegionEU))
	fake := analyticstest.NewServer(nil)
	defer fake.Close()

	client, err := analytics.New("your-api-key",
		append(exampleOptions(), analytics.WithEndpoint(fake.URL))...)
	if err != nil {
		fmt.Println(err)
		return
	}
	err = client.Enqueue(analytics.Identify{
		UserID: "42",
		Traits: analytics.Traits{"email": "ada@example.com", "plan": "pro"},
	})
	if err != nil {
		fmt.Println(err)
	}
	err = client.Enqueue(analytics.Track{
		UserID:     "42",
		Event:      "Course Started",
		Properties: analytics.Properties{"title": "Intro to Customer.io"},
	})
	if err != nil {
		fmt.Println(err)
	}
	// Close delivers what is queued and reports what was not delivered.
	if err := client.Close(); err != nil {
		fmt.Println(err)
	}

	for _, m := range fake.Messages() {
		fmt.Println(m.MessageID, m.Timestamp.Format(time.RFC3339), m)
	}
	// Output:
	// m1 2026-01-02T03:04:05Z identify user=42
	// m2 2026-01-02T03:04:05Z track "Course Started" user=42
}

// Options are checked by New.
func ExampleNew_invalidOption() {
	_, err := analytics.New("your-api-key", analytics.WithBatchSize(0))
	fmt.Println(err)
	// Output:
	// analytics: WithBatchSize: 0 is out of range [1, 10000]
}

func ExampleClient_Flush() {
	fake := analyticstest.NewServer(nil)
	defer fake.Close()
	client, err := analytics.New("your-api-key",
		append(exampleOptions(), analytics.WithEndpoint(fake.URL))...)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Flush waits until everything enqueued before it has been delivered
	// (or given up) and reports what was lost. The client stays usable.
	_ = client.Enqueue(analytics.Track{UserID: "42", Event: "Report Exported"})
	if err := client.Flush(ctx); err != nil {
		fmt.Println(err)
	}
	fmt.Println("received after the first flush:", len(fake.Messages()))

	_ = client.Enqueue(analytics.Track{UserID: "42", Event: "Report Shared"})
	if err := client.Flush(ctx); err != nil {
		fmt.Println(err)
	}
	fmt.Println("received after the second flush:", len(fake.Messages()))

	st := client.Stats()
	fmt.Println("delivered:", st.Delivered, "requests:", st.Requests)
	// Output:
	// received after the first flush: 1
	// received after the second flush: 2
	// delivered: 2 requests: 2
}

func ExampleClient_Close() {
	fake := analyticstest.NewServer(nil)
	defer fake.Close()
	// This API refuses everything, with a status that is not retried.
	fake.SetDefault(analyticstest.Response{Status: 400, Body: `{"error":"bad request"}`})

	client, err := analytics.New("your-api-key",
		append(exampleOptions(), analytics.WithEndpoint(fake.URL))...)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = client.Enqueue(analytics.Track{UserID: "42", Event: "Account Closed"})

	// Close delivers what is queued, waiting at most the shutdown timeout
	// (WithShutdownTimeout), and reports the messages that were not
	// delivered.
	err = client.Close()
	fmt.Println(err)
	var de *analytics.DeliveryError
	var apiErr *analytics.APIError
	if errors.As(err, &de) && errors.As(err, &apiErr) {
		fmt.Println("undelivered:", de.Undelivered, "status:", apiErr.StatusCode)
	}

	// Close is safe to call again; every call returns the same result.
	fmt.Println("same result again:", client.Close() == err)
	fmt.Println("enqueue after close:", client.Enqueue(analytics.Track{UserID: "42", Event: "Late"}))

	body, _ := json.Marshal(fake.Requests()[0].Messages[0].Properties)
	fmt.Println("requests:", len(fake.Requests()), "accepted:", len(fake.Messages()), "properties:", string(body))
	// Output:
	// analytics: 1 message not delivered: analytics: API answered 400: {"error":"bad request"}
	// undelivered: 1 status: 400
	// same result again: true
	// enqueue after close: analytics: client is closed
	// requests: 1 accepted: 0 properties: null
}
