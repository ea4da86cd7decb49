// Command quickstart sends an identify, a track, a page, a group and a
// delete-person call, closes the client, and reports what was delivered.
//
// Without CDP_API_KEY in the environment it sends them to a fake Data
// Pipelines API that it runs in process (package analyticstest) and prints
// what that fake received, so it works offline:
//
//	go run ./examples/quickstart
//
// With CDP_API_KEY set it sends them to Customer.io (CDP_REGION=eu for the
// EU data center). It exits with status 1 if any message was not
// delivered.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

func main() {
	cfg, err := configFromEnv(os.Getenv)
	if err == nil {
		err = run(context.Background(), os.Stdout, cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
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

// run sends the quick start's messages as cfg says and writes a report to w.
// It returns an error if a message was rejected or not delivered.
func run(ctx context.Context, w io.Writer, cfg config) error {
	opts := []analytics.Option{analytics.WithRegion(cfg.region)}
	var fake *analyticstest.Server
	switch {
	case cfg.apiKey == "":
		// No key: run a fake Data Pipelines API in process. With a nil
		// testing.TB the caller must close it.
		fake = analyticstest.NewServer(nil)
		defer fake.Close()
		cfg.apiKey = "offline-quickstart-key"
		opts = append(opts, analytics.WithEndpoint(fake.URL))
		fmt.Fprintln(w, "CDP_API_KEY is not set: sending to a fake Data Pipelines API in process")
	case cfg.endpoint != "":
		opts = append(opts, analytics.WithEndpoint(cfg.endpoint))
	default:
		fmt.Fprintln(w, "sending to Customer.io at", cfg.region.Endpoint())
	}

	client, err := analytics.New(cfg.apiKey, opts...)
	if err != nil {
		return err
	}
	sendErr := send(client, "42")
	// Close delivers what is queued and reports what was not delivered.
	closeErr := client.Close()
	st := client.Stats()
	fmt.Fprintf(w, "delivered %d of %d messages (%s)\n", st.Delivered, st.Enqueued, plural(st.Requests, "request"))
	if err := errors.Join(sendErr, closeErr); err != nil {
		return err
	}
	if fake == nil {
		return nil
	}
	if err := printMessages(w, fake.Messages()); err != nil {
		return err
	}
	if vs := fake.Violations(); len(vs) > 0 {
		return fmt.Errorf("the fake API saw %d protocol violations, the first: %s", len(vs), vs[0])
	}
	return nil
}

// send enqueues the quick start's messages about the person userID.
func send(client *analytics.Client, userID string) error {
	return errors.Join(
		client.Enqueue(analytics.Identify{
			UserID: userID,
			Traits: analytics.Traits{"email": "ada@example.com", "name": "Ada Lovelace", "plan": "pro"},
		}),
		client.Enqueue(analytics.Track{
			UserID:     userID,
			Event:      "Course Started",
			Properties: analytics.Properties{"title": "Intro to Customer.io", "lessons": 12},
		}),
		client.Enqueue(analytics.Page{
			UserID:     userID,
			Name:       "Pricing",
			Properties: analytics.Properties{"path": "/pricing", "url": "https://example.com/pricing"},
		}),
		client.Enqueue(analytics.Group{
			UserID:  userID,
			GroupID: "acme",
			Traits:  analytics.Traits{"name": "Acme Inc.", "plan": "enterprise"},
		}),
		// Delete another person, who asked to be forgotten.
		client.Enqueue(analytics.DeletePerson{UserID: "41"}),
	)
}

// printMessages writes one line per message: type, event, name or group,
// user, and the properties or traits as compact JSON (keys sorted).
func printMessages(w io.Writer, msgs []analyticstest.Message) error {
	fmt.Fprintf(w, "the fake API received %d messages:\n", len(msgs))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, m := range msgs {
		what := "-"
		switch {
		case m.Event != "":
			what = fmt.Sprintf("%q", m.Event)
		case m.Name != "":
			what = fmt.Sprintf("%q", m.Name)
		case m.GroupID != "":
			what = "groupId=" + m.GroupID
		}
		who := "userId=" + m.UserID
		if m.UserID == "" {
			who = "anonymousId=" + m.AnonymousID
		}
		key, data := "properties", m.Properties
		if m.Type == analyticstest.TypeIdentify || m.Type == analyticstest.TypeGroup {
			key, data = "traits", m.Traits
		}
		if data == nil {
			data = map[string]any{}
		}
		js, err := json.Marshal(data)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s=%s\n", m.Type, what, who, key, js)
	}
	return tw.Flush()
}

func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
