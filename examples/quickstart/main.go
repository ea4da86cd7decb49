// Command quickstart sends an identify, a track, a page and a group call
// about a person of its own, closes the client, and reports what was
// delivered.
//
// Without CDP_API_KEY in the environment it sends them to a fake Data
// Pipelines API that it runs in process (package analyticstest), with a
// delete-person call at the end, and prints what that fake received, so it
// works offline:
//
//	go run ./examples/quickstart
//
// With CDP_API_KEY set it sends them to Customer.io (CDP_REGION=eu for the
// EU data center). The person and the object it creates there have ids
// that cannot be a real person's or object's (QuickstartUserID), so a run
// against a real workspace changes nothing but them; it deletes nothing
// unless asked by name, with -delete, and then only its own person:
//
//	CDP_API_KEY=... go run ./examples/quickstart -delete
//
// It exits with status 1 if any message was not delivered.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

// The ids of the person and the object the quick start creates: a fixed
// UUID, so that they cannot be a real person's or object's, and a re-run
// updates the same ones instead of making new ones.
const (
	QuickstartUserID  = "quickstart-c8feecb7-0521-4418-bcc3-137972723cde"
	QuickstartGroupID = "quickstart-acme-c8feecb7-0521-4418-bcc3-137972723cde"
)

func main() {
	deletePerson := flag.Bool("delete", false, "with CDP_API_KEY: also delete the quick start's own person (QuickstartUserID) from the workspace")
	flag.Parse()
	cfg, err := configFromEnv(os.Getenv)
	cfg.deletePerson = *deletePerson
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
	// deletePerson sends the delete-person call to a real workspace
	// (-delete); offline the fake always gets it.
	deletePerson bool
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
	// A destructive call goes to a real workspace only when asked for by
	// name, and deletes only the quick start's own person.
	withDelete := fake != nil || cfg.deletePerson
	sendErr := send(client, QuickstartUserID, withDelete)
	if !withDelete {
		fmt.Fprintf(w, "sent no delete-person call (run with -delete to delete the person %s)\n", QuickstartUserID)
	}
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

// send enqueues the quick start's messages about the person userID, and
// with withDelete, at the end, the deletion of that person.
func send(client *analytics.Client, userID string, withDelete bool) error {
	err := errors.Join(
		client.Enqueue(analytics.Identify{
			UserID: userID,
			Traits: analytics.Traits{"email": "ada-c8feecb7@example.com", "name": "Ada Lovelace", "plan": "pro"},
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
			GroupID: QuickstartGroupID,
			Traits:  analytics.Traits{"name": "Acme Inc.", "plan": "enterprise"},
		}),
	)
	if withDelete {
		// The person asked to be forgotten.
		err = errors.Join(err, client.Enqueue(analytics.DeletePerson{UserID: userID}))
	}
	return err
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
