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
  identify  -                                                             userId=quickstart-c8feecb7-0521-4418-bcc3-137972723cde  traits={"email":"ada-c8feecb7@example.com","name":"Ada Lovelace","plan":"pro"}
  track     "Course Started"                                              userId=quickstart-c8feecb7-0521-4418-bcc3-137972723cde  properties={"lessons":12,"title":"Intro to Customer.io"}
  page      "Pricing"                                                     userId=quickstart-c8feecb7-0521-4418-bcc3-137972723cde  properties={"path":"/pricing","url":"https://example.com/pricing"}
  group     groupId=quickstart-acme-c8feecb7-0521-4418-bcc3-137972723cde  userId=quickstart-c8feecb7-0521-4418-bcc3-137972723cde  traits={"name":"Acme Inc.","plan":"enterprise"}
  track     "User Deleted"                                                userId=quickstart-c8feecb7-0521-4418-bcc3-137972723cde  properties={}
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

// TestWithKeyDeletesNothingUnlessAsked runs the path taken with
// CDP_API_KEY set, against a fake that checks the key: it sends nothing
// destructive unless -delete asks for it, and then deletes only its own
// person; every id it sends is the quick start's own, which no real
// person or object has. (Before, it deleted person "41" of the workspace,
// and wrote to person "42" and object "acme".)
func TestWithKeyDeletesNothingUnlessAsked(t *testing.T) {
	for _, deletePerson := range []bool{false, true} {
		srv := analyticstest.NewServer(t, analyticstest.WithAPIKey("real-key"))
		var out bytes.Buffer
		cfg := config{apiKey: "real-key", region: analytics.RegionUS, endpoint: srv.URL, deletePerson: deletePerson}
		if err := run(context.Background(), &out, cfg); err != nil {
			t.Fatalf("run: %v\n%s", err, out.String())
		}
		var got []string
		for _, m := range srv.Messages() {
			got = append(got, m.String())
			if m.UserID != QuickstartUserID || m.GroupID != "" && m.GroupID != QuickstartGroupID {
				t.Errorf("sent %s: an id that is not the quick start's own", m)
			}
		}
		want := []string{`identify user=` + QuickstartUserID, `track "Course Started" user=` + QuickstartUserID,
			`page "Pricing" user=` + QuickstartUserID, `group user=` + QuickstartUserID}
		wantOut := "delivered 4 of 4 messages (1 request)\n"
		if deletePerson {
			want = append(want, `track "User Deleted" user=`+QuickstartUserID)
			wantOut = "delivered 5 of 5 messages (1 request)\n"
		} else {
			wantOut = "sent no delete-person call (run with -delete to delete the person " + QuickstartUserID + ")\n" + wantOut
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("-delete=%v: received %q, want %q", deletePerson, got, want)
		}
		if out.String() != wantOut {
			t.Errorf("-delete=%v: output %q, want %q", deletePerson, out.String(), wantOut)
		}
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
	if !errors.As(err, &de) || de.Undelivered != 4 {
		t.Fatalf("run returned %v, want a DeliveryError for 4 messages", err)
	}
	if !strings.Contains(out.String(), "delivered 0 of 4 messages") {
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
