package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

const wantOffline = `CDP_API_KEY is not set: sending to a fake Data Pipelines API in process
delivered 5 of 5 messages (1 request)
the fake API received 5 messages:
  identify  -                 userId=42  traits={"email":"ada@example.com","name":"Ada Lovelace","plan":"pro"}
  track     "Course Started"  userId=42  properties={"lessons":12,"title":"Intro to Customer.io"}
  page      "Pricing"         userId=42  properties={"path":"/pricing","url":"https://example.com/pricing"}
  group     groupId=acme      userId=42  traits={"name":"Acme Inc.","plan":"enterprise"}
  track     "User Deleted"    userId=41  properties={}
`

func TestOffline(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, config{region: analytics.RegionUS}); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if got := out.String(); got != wantOffline {
		t.Errorf("output:\n%s\nwant:\n%s", got, wantOffline)
	}
}

// TestWithKey runs the path taken with CDP_API_KEY set, against a fake
// that checks the key.
func TestWithKey(t *testing.T) {
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey("real-key"))
	var out bytes.Buffer
	if err := run(context.Background(), &out, config{apiKey: "real-key", region: analytics.RegionUS, endpoint: srv.URL}); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if got, want := out.String(), "delivered 5 of 5 messages (1 request)\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	var got []string
	for _, m := range srv.Messages() {
		got = append(got, m.String())
	}
	want := []string{`identify user=42`, `track "Course Started" user=42`, `page "Pricing" user=42`, `group user=42`, `track "User Deleted" user=41`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("received %q, want %q", got, want)
	}
}

// TestNotDelivered proves that run, and so the exit status, reports
// messages the API refused.
func TestNotDelivered(t *testing.T) {
	srv := analyticstest.NewServer(t)
	srv.SetDefault(analyticstest.Response{Status: 400, Body: `{"error":"bad"}`})
	var out bytes.Buffer
	err := run(context.Background(), &out, config{apiKey: "k", region: analytics.RegionUS, endpoint: srv.URL})
	var de *analytics.DeliveryError
	if !errors.As(err, &de) || de.Undelivered != 5 {
		t.Fatalf("run returned %v, want a DeliveryError for 5 messages", err)
	}
	if !strings.Contains(out.String(), "delivered 0 of 5 messages") {
		t.Errorf("output %q does not report the loss", out.String())
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, tc := range []struct {
		env     func(string) string
		want    config
		wantErr bool
	}{
		{env(), config{region: analytics.RegionUS}, false},
		{env("CDP_API_KEY", " k ", "CDP_REGION", "EU"), config{apiKey: "k", region: analytics.RegionEU}, false},
		{env("CDP_API_KEY", "k", "CDP_REGION", "us"), config{apiKey: "k", region: analytics.RegionUS}, false},
		{env("CDP_REGION", "asia"), config{}, true},
	} {
		got, err := configFromEnv(tc.env)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("configFromEnv = %+v, %v; want %+v, error %v", got, err, tc.want, tc.wantErr)
		}
	}
}
