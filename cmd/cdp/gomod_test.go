package main

import (
	"os"
	"strings"
	"testing"

	analytics "github.com/cdpkit/analytics-go"
)

// TestGoModInstallable: go install github.com/cdpkit/analytics-go/cmd/cdp@latest
// refuses a go.mod with a replace directive, and resolves the library by
// the version go.mod requires, which must be the release this command is
// built and tested with (go.work stands in for it in a clone).
func TestGoModInstallable(t *testing.T) {
	data, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	required := ""
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "replace") || strings.HasPrefix(line, "exclude") {
			t.Errorf("go.mod has %q: go install …@latest refuses it", line)
		}
		f := strings.Fields(strings.TrimPrefix(line, "require "))
		if len(f) >= 2 && f[0] == "github.com/cdpkit/analytics-go" {
			required = f[1]
		}
	}
	if want := "v" + analytics.Version; required != want {
		t.Errorf("go.mod requires github.com/cdpkit/analytics-go %q; want %s, the library this command is tested with", required, want)
	}
}
