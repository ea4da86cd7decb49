package analytics_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

// A message the API could not take before the client closed waits in the
// spool, and the next client on the directory sends it first, with its
// original messageId.
func ExampleWithSpool() {
	dir, err := os.MkdirTemp("", "spool")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	quiet := analytics.WithLogger(slog.New(slog.DiscardHandler))

	down := analyticstest.NewServer(nil)
	defer down.Close()
	down.SetDefault(analyticstest.Response{Status: 503})
	client, err := analytics.New("key", analytics.WithEndpoint(down.URL), analytics.WithSpool(dir),
		analytics.WithRetry(analytics.RetryPolicy{MaxAttempts: 1}), quiet)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = client.Enqueue(analytics.Track{UserID: "u1", Event: "Invoice Paid", MessageID: "inv-42"})
	_ = client.Close() // not delivered: kept in the spool

	up := analyticstest.NewServer(nil)
	defer up.Close()
	client, err = analytics.New("key", analytics.WithEndpoint(up.URL), analytics.WithSpool(dir), quiet)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	if err := client.Flush(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("recovered:", client.Stats().SpoolRecovered)
	for _, m := range up.Messages() {
		fmt.Println(m.MessageID, m.Event)
	}
	// Output:
	// recovered: 1
	// inv-42 Invoice Paid
}
