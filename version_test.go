package analytics_test

import (
	"os"
	"regexp"
	"testing"

	analytics "github.com/cdpkit/analytics-go"
)

// TestVersionMatchesChangelog keeps Version, which every message carries in
// context.library.version, equal to the newest release in CHANGELOG.md.
func TestVersionMatchesChangelog(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("CHANGELOG.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^## \[(\d+\.\d+\.\d+[^\]]*)\]`).FindSubmatch(b)
	if m == nil {
		t.Fatal("CHANGELOG.md has no release heading such as ## [1.2.3]")
	}
	if got := string(m[1]); got != analytics.Version {
		t.Errorf("CHANGELOG.md's newest release is %s, analytics.Version is %s", got, analytics.Version)
	}
}
