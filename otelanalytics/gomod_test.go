package otelanalytics_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	analytics "github.com/cdpkit/analytics-go"
)

// TestGoModRequiresARelease: users' builds ignore the replace directive,
// so the version of the library that go.mod requires must be one that is
// released with this module: at least v0.2.0, the first with the Stats
// fields Observe reads, and not above the library's own Version.
func TestGoModRequiresARelease(t *testing.T) {
	data, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var required string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && f[0] == "github.com/cdpkit/analytics-go" {
			required = f[1]
		}
	}
	parse := func(v string) (n [3]int, ok bool) {
		_, err := fmt.Sscanf(v, "v%d.%d.%d", &n[0], &n[1], &n[2])
		return n, err == nil && fmt.Sprintf("v%d.%d.%d", n[0], n[1], n[2]) == v
	}
	less := func(a, b [3]int) bool {
		for i := range a {
			if a[i] != b[i] {
				return a[i] < b[i]
			}
		}
		return false
	}
	got, ok := parse(required)
	current, _ := parse("v" + analytics.Version)
	if !ok || less(got, [3]int{0, 2, 0}) || less(current, got) {
		t.Errorf("go.mod requires github.com/cdpkit/analytics-go %q; want a release from v0.2.0 to v%s", required, analytics.Version)
	}
}
