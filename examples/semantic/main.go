// Command semantic performs Customer.io actions on one person with the
// typed helpers, the way a clean-up or GDPR script would, and waits for
// delivery before it exits:
//
//	go run ./examples/semantic -user 42 -suppress
//	go run ./examples/semantic -user 42 -delete-device TOKEN -delete
//	go run ./examples/semantic -email ada@example.com -delete
//
// Without CDP_API_KEY in the environment it sends to a fake Data Pipelines
// API in process and prints what that fake received; with CDP_API_KEY it
// sends to Customer.io (CDP_REGION=eu for the EU). It exits with status 1
// if a call was invalid or not delivered, and 2 for bad flags.
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
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

func main() {
	cfg, err := parseArgs(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "semantic:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	err = run(ctx, os.Stdout, cfg)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "semantic:", err)
		os.Exit(1)
	}
}

// config is what to do, and where to send it.
type config struct {
	user, email  string
	suppress     bool
	unsuppress   bool
	deleteDevice string // a device token
	delete       bool
	timeout      time.Duration

	apiKey   string // empty: send to an in-process fake
	region   analytics.Region
	endpoint string // overrides the region; for tests
}

// parseArgs reads the flags and CDP_API_KEY and CDP_REGION.
func parseArgs(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("semantic", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.user, "user", "", "id of the person (userId)")
	fs.StringVar(&cfg.email, "email", "", "email address of the person, for -delete without -user")
	fs.BoolVar(&cfg.suppress, "suppress", false, "suppress the person: stop messaging them and tracking them")
	fs.BoolVar(&cfg.unsuppress, "unsuppress", false, "unsuppress the person")
	fs.StringVar(&cfg.deleteDevice, "delete-device", "", "remove the device with this `token` from the person")
	fs.BoolVar(&cfg.delete, "delete", false, "delete the person")
	fs.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "how long to wait for delivery")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	switch {
	case fs.NArg() > 0:
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	case !cfg.suppress && !cfg.unsuppress && cfg.deleteDevice == "" && !cfg.delete:
		return config{}, errors.New("nothing to do: give -suppress, -unsuppress, -delete-device TOKEN or -delete")
	case cfg.suppress && cfg.unsuppress:
		return config{}, errors.New("-suppress and -unsuppress exclude each other")
	case cfg.user == "" && cfg.email == "":
		return config{}, errors.New("name the person with -user (or -email, for -delete)")
	case cfg.user == "" && (cfg.suppress || cfg.unsuppress || cfg.deleteDevice != ""):
		return config{}, errors.New("-suppress, -unsuppress and -delete-device need -user")
	}

	cfg.apiKey = strings.TrimSpace(getenv("CDP_API_KEY"))
	switch r := strings.ToLower(strings.TrimSpace(getenv("CDP_REGION"))); r {
	case "", "us":
		cfg.region = analytics.RegionUS
	case "eu":
		cfg.region = analytics.RegionEU
	default:
		return config{}, fmt.Errorf("CDP_REGION=%q: want us or eu", r)
	}
	return cfg, nil
}

// calls returns the typed helpers for what cfg asks, in a sensible order:
// the device goes before the person is deleted.
func calls(cfg config) []analytics.Message {
	var msgs []analytics.Message
	if cfg.suppress {
		msgs = append(msgs, analytics.SuppressPerson{UserID: cfg.user})
	}
	if cfg.unsuppress {
		msgs = append(msgs, analytics.UnsuppressPerson{UserID: cfg.user})
	}
	if cfg.deleteDevice != "" {
		msgs = append(msgs, analytics.DeleteDevice{UserID: cfg.user, Device: analytics.Device{Token: cfg.deleteDevice}})
	}
	if cfg.delete {
		msgs = append(msgs, analytics.DeletePerson{UserID: cfg.user, Email: cfg.email})
	}
	return msgs
}

// run sends the calls and waits for their delivery. It returns an error if
// one was invalid or not delivered.
func run(ctx context.Context, w io.Writer, cfg config) error {
	opts := []analytics.Option{analytics.WithRegion(cfg.region)}
	var fake *analyticstest.Server
	switch {
	case cfg.apiKey == "":
		fake = analyticstest.NewServer(nil) // with a nil testing.TB, we must Close it
		defer fake.Close()
		cfg.apiKey = "offline-key"
		opts = append(opts, analytics.WithEndpoint(fake.URL))
		fmt.Fprintln(w, "CDP_API_KEY is not set: sending to a fake Data Pipelines API in process")
	case cfg.endpoint != "":
		opts = append(opts, analytics.WithEndpoint(cfg.endpoint))
	}
	client, err := analytics.New(cfg.apiKey, opts...)
	if err != nil {
		return err
	}

	var errs []error
	for _, m := range calls(cfg) {
		// Enqueue validates at once: an invalid call is never sent.
		errs = append(errs, client.Enqueue(m))
	}
	// A script must know before it exits: Shutdown waits for delivery,
	// retrying, until ctx ends, and reports what was not delivered.
	errs = append(errs, client.Shutdown(ctx))
	st := client.Stats()
	fmt.Fprintf(w, "delivered %d of %d calls\n", st.Delivered, st.Enqueued)
	if fake != nil {
		for _, m := range fake.Messages() {
			props := []byte("{}")
			if m.Properties != nil {
				props, _ = json.Marshal(m.Properties)
			}
			fmt.Fprintf(w, "  %s properties=%s\n", m, props)
		}
	}
	return errors.Join(errs...)
}
