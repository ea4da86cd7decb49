package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdpkit/analytics-go/analyticstest"
)

// TestMain runs the command itself when the test binary is started with
// CDP_TEST_MAIN=1: the resume test kills such a process mid-way.
func TestMain(m *testing.M) {
	if os.Getenv("CDP_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

const testKey = "sk-test-0123456789abcdef"

// result is what one run of the command produced.
type result struct {
	code           int
	stdout, stderr string
}

// cdp runs the command with args and stdin, with testKey in CDP_API_KEY.
func cdp(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	t.Setenv("CDP_API_KEY", testKey)
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return result{code, out.String(), errb.String()}
}

func newServer(t *testing.T) *analyticstest.Server {
	return analyticstest.NewServer(t, analyticstest.WithAPIKey(testKey))
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(data), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}
