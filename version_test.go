package analytics_test

import (
	"os"
	"regexp"
	"testing"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVersionMatchesChangelog keeps Version, which every message carries in
// context.library.version, equal to the newest release in CHANGELOG.md.
func TestVersionMatchesChangelog(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("CHANGELOG.md")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^## \[(\d+\.\d+\.\d+[^\]]*)\]`).FindSubmatch(b)
	require.NotNil(t, m, "CHANGELOG.md has no release heading such as ## [1.2.3]")
	assert.Equal(t, analytics.Version, string(m[1]), "CHANGELOG.md's newest release is not analytics.Version")
}
