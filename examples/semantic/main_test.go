package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

func noEnv(string) string { return "" }

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args    string
		wantErr string
	}{
		{"-user 42 -suppress", ""},
		{"-user 42 -unsuppress -delete-device tok -delete -timeout 5s", ""},
		{"-email ada@example.com -delete", ""},
		{"-user 42", "nothing to do"},
		{"-suppress", "name the person"},
		{"-user 42 -suppress -unsuppress", "exclude each other"},
		{"-email ada@example.com -suppress", "need -user"},
		{"-user 42 -delete extra", "unexpected arguments"},
		{"-user 42 -nope", "flag provided but not defined"},
	} {
		_, err := parseArgs(strings.Fields(tc.args), noEnv, io.Discard)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("parseArgs(%q) error %v, want %q", tc.args, err, tc.wantErr)
		}
	}
	cfg, err := parseArgs([]string{"-user", "42", "-delete"}, func(k string) string {
		return map[string]string{"CDP_API_KEY": "k", "CDP_REGION": "eu"}[k]
	}, io.Discard)
	if err != nil || cfg.apiKey != "k" || cfg.region != analytics.RegionEU || cfg.timeout != 30*time.Second {
		t.Errorf("config %+v, %v", cfg, err)
	}
}

func TestOffline(t *testing.T) {
	cfg, err := parseArgs(strings.Fields("-user 42 -suppress -delete-device tok-1 -delete"), noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), &out, cfg); err != nil {
		t.Fatal(err)
	}
	want := `CDP_API_KEY is not set: sending to a fake Data Pipelines API in process
delivered 3 of 3 calls
  track "User Suppressed" user=42 properties={}
  track "Device Deleted" user=42 properties={"device":{"token":"tok-1"}}
  track "User Deleted" user=42 properties={}
`
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}

// TestCalls checks what reached the API, decoded back into the helpers.
func TestCalls(t *testing.T) {
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey("k"))
	cfg, err := parseArgs(strings.Fields("-user 42 -unsuppress -delete-device tok-9"), noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.apiKey, cfg.endpoint = "k", srv.URL
	if err := run(context.Background(), io.Discard, cfg); err != nil {
		t.Fatal(err)
	}
	un, err := analyticstest.MessagesAs[analytics.UnsuppressPerson](srv.Recorder)
	if err != nil || len(un) != 1 || un[0].UserID != "42" {
		t.Errorf("UnsuppressPerson calls %+v, %v", un, err)
	}
	dd, err := analyticstest.MessagesAs[analytics.DeleteDevice](srv.Recorder)
	if err != nil || len(dd) != 1 || dd[0].UserID != "42" || dd[0].Device.Token != "tok-9" {
		t.Errorf("DeleteDevice calls %+v, %v", dd, err)
	}
	if n := len(srv.Messages()); n != 2 {
		t.Errorf("%d messages, want 2", n)
	}

	// By email, without a user id.
	srv.Reset()
	cfg.user, cfg.email, cfg.unsuppress, cfg.deleteDevice, cfg.delete = "", "ada@example.com", false, "", true
	if err := run(context.Background(), io.Discard, cfg); err != nil {
		t.Fatal(err)
	}
	del, err := analyticstest.MessagesAs[analytics.DeletePerson](srv.Recorder)
	if err != nil || len(del) != 1 || del[0].Email != "ada@example.com" || del[0].UserID != "" {
		t.Errorf("DeletePerson calls %+v, %v", del, err)
	}
}

// TestNotDelivered: the script reports, and so exits non-zero, when the
// API refuses the call or does not answer before the deadline.
func TestNotDelivered(t *testing.T) {
	cfg, err := parseArgs(strings.Fields("-user 42 -delete"), noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("refused", func(t *testing.T) {
		srv := analyticstest.NewServer(t)
		srv.SetDefault(analyticstest.Response{Status: 403})
		cfg.apiKey, cfg.endpoint = "k", srv.URL
		var de *analytics.DeliveryError
		if err := run(context.Background(), io.Discard, cfg); !errors.As(err, &de) || de.Undelivered != 1 {
			t.Errorf("run: %v, want 1 message not delivered", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		srv := analyticstest.NewServer(t)
		srv.SetDefault(analyticstest.Response{Delay: time.Minute})
		cfg.apiKey, cfg.endpoint = "k", srv.URL
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		var de *analytics.DeliveryError
		if err := run(ctx, io.Discard, cfg); !errors.As(err, &de) || de.Undelivered != 1 {
			t.Errorf("run: %v, want 1 message not delivered", err)
		}
	})
}
