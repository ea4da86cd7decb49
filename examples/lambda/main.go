// Command lambda shows the client in an AWS Lambda function, or any
// serverless runtime that freezes the process between invocations: one
// client per execution environment, and a Flush with a deadline before
// every handler returns. See handler.go, and the README's "Serverless"
// section for why and how to size the timeouts.
//
// This program runs a few invocations of the handler the way the Lambda
// runtime would, each under a context with the function's deadline. It
// does not import the Lambda runtime client (github.com/aws/aws-lambda-go),
// so that this repository's module gains no dependency; a deployed
// function replaces the simulation in main with
//
//	lambda.Start(h.Handle)
//
// Without CDP_API_KEY in the environment it sends to a fake Data Pipelines
// API that it runs in process (package analyticstest), so it works
// offline:
//
//	go run ./examples/lambda
//
// With CDP_API_KEY set it sends to Customer.io (CDP_REGION=eu for the EU
// data center).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

// FunctionTimeout is the timeout this program assumes the function is
// configured with; the client's timeouts below fit inside it.
const FunctionTimeout = 10 * time.Second

// clientOptions are the client's options for a function whose timeout is
// FunctionTimeout. The ordering to keep is
//
//	function timeout > Flush deadline (timeout - work - headroom) > request timeout
//
// and a retry time shorter than the function's timeout, so that a batch is
// either delivered or given up (and reported) within about one invocation.
func clientOptions() []analytics.Option {
	return []analytics.Option{
		// One attempt must fit in the Flush deadline, with room for a retry.
		analytics.WithRequestTimeout(2 * time.Second),
		analytics.WithRetry(analytics.RetryPolicy{
			// A batch is not retried for longer than the function
			// can run.
			MaxTime: 8 * time.Second,
			// Retry soon: the invocation is short.
			WaitMin: 100 * time.Millisecond,
			WaitMax: time.Second,
		}),
	}
}

func main() {
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		fmt.Fprintln(os.Stderr, "lambda: this example has no Lambda runtime client; deploy a main that calls lambda.Start(h.Handle)")
		os.Exit(1)
	}
	cfg, err := configFromEnv(os.Getenv)
	if err == nil {
		err = run(context.Background(), os.Stdout, cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lambda:", err)
		os.Exit(1)
	}
}

// config says where to send.
type config struct {
	apiKey string // empty: send to an in-process fake
	region analytics.Region
	// endpoint, when set, overrides the region (tests point it at a fake).
	endpoint string
}

// configFromEnv reads CDP_API_KEY and CDP_REGION ("us", the default, or "eu").
func configFromEnv(getenv func(string) string) (config, error) {
	cfg := config{apiKey: strings.TrimSpace(getenv("CDP_API_KEY")), region: analytics.RegionUS}
	switch r := strings.ToLower(strings.TrimSpace(getenv("CDP_REGION"))); r {
	case "", "us":
	case "eu":
		cfg.region = analytics.RegionEU
	default:
		return config{}, fmt.Errorf("CDP_REGION=%q: want us or eu", r)
	}
	return cfg, nil
}

// events are the invocations the simulation runs.
var events = []Event{
	{UserID: "42", OrderID: "o-1001", Total: 25},
	{UserID: "43", OrderID: "o-1002", Total: 99.5},
	{UserID: "42", OrderID: "o-1003", Total: 12},
}

// run creates the client as a cold start would, runs the invocations one
// after the other, each under FunctionTimeout, and reports on w. At the
// end it closes the client, which a deployed function never does: the
// environment is frozen and reclaimed, not shut down.
func run(ctx context.Context, w io.Writer, cfg config) error {
	opts := append(clientOptions(), analytics.WithRegion(cfg.region))
	var fake *analyticstest.Transport
	switch {
	case cfg.apiKey == "":
		fake = analyticstest.NewTransport(nil)
		defer fake.Close()
		cfg.apiKey = "offline-lambda-key"
		opts = append(opts, analytics.WithEndpoint(fake.URL), analytics.WithHTTPClient(fake.Client()))
		fmt.Fprintln(w, "CDP_API_KEY is not set: sending to a fake Data Pipelines API in process")
	case cfg.endpoint != "":
		opts = append(opts, analytics.WithEndpoint(cfg.endpoint))
	default:
		fmt.Fprintln(w, "sending to Customer.io at", cfg.region.Endpoint())
	}

	// Cold start: one client for the execution environment.
	client, err := analytics.New(cfg.apiKey, opts...)
	if err != nil {
		return err
	}
	h := &Handler{Client: client}

	var errs []error
	for i, ev := range events {
		invocation, cancel := context.WithTimeout(ctx, FunctionTimeout)
		resp, err := h.Handle(invocation, ev)
		cancel()
		if err != nil {
			errs = append(errs, err)
			fmt.Fprintf(w, "invocation %d: %v\n", i+1, err)
			continue
		}
		fmt.Fprintf(w, "invocation %d: order %s handled, %d messages pending, %d delivered so far\n",
			i+1, resp.OrderID, resp.Pending, client.Stats().Delivered)
	}
	if err := client.Close(); err != nil {
		errs = append(errs, err)
	}
	if fake != nil {
		fmt.Fprintf(w, "the fake API received %d Order Completed events in %d requests\n",
			len(fake.ByEvent("Order Completed")), len(fake.Requests()))
	}
	return errors.Join(errs...)
}
