package analytics_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/cdpkit/analytics-go/internal/catalog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The -update flag rewrites the golden files. Other test files of this
// package may declare it too; it is registered here only if none did, so
// that either file works alone.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func helperGoldenUpdate() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// helperGoldenKey is the API key of the golden test; it must never appear in
// a golden file.
const helperGoldenKey = "sk_helper_golden_7f3a9c"

// helperGoldenDir holds one golden message per typed helper, named after
// the helper's Go type.
var helperGoldenDir = filepath.Join("testdata", "golden", "helpers")

// TestHelperGolden sends every typed helper, with every field set, through
// the real client to the fake API on loopback and compares each message as
// it received it with testdata/golden/helpers/<GoName>.json. Run
//
//	go test -run TestHelperGolden -update
//
// to rewrite the files after an intended change. The library version in
// context.library is written as "(Version)" so that a release does not
// change every file.
func TestHelperGolden(t *testing.T) {
	t.Parallel()
	cat, err := catalog.Load()
	require.NoError(t, err)
	filled := analytics.FilledHelpersForTest(t)

	// The fake checks every request: basic auth with the key and an
	// empty password, the body, every call against the API's rules.
	srv := analyticstest.NewServer(t, analyticstest.WithAPIKey(helperGoldenKey))

	var seq atomic.Int64
	client, err := analytics.New(helperGoldenKey,
		analytics.WithEndpoint(srv.URL),
		analytics.WithClock(func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC) }),
		analytics.WithMessageIDs(func() string { return fmt.Sprintf("helper-%d", seq.Add(1)) }),
		analytics.WithLogger(slog.New(slog.DiscardHandler)),
	)
	require.NoError(t, err)
	// Enqueue in catalog order, so that the message ids are stable.
	for _, ev := range cat.Events {
		assert.NoError(t, client.Enqueue(filled[ev.Name]), "Enqueue %s", ev.GoName)
	}
	require.NoError(t, client.Close(), "Close")
	received := map[string]json.RawMessage{} // by event name
	var dupes []string
	for _, m := range srv.Messages() {
		if _, dup := received[m.Event]; dup {
			dupes = append(dupes, m.Event)
		}
		received[m.Event] = m.Raw
	}
	for _, r := range srv.Requests() {
		assert.Equal(t, helperGoldenKey, r.APIKey, "request %d: the basic auth user", r.Index)
	}
	assert.Empty(t, dupes, "events received more than once: %v", dupes)

	library := fmt.Sprintf(`"library":{"name":%q,"version":%q}`, analytics.LibraryName, analytics.Version)
	wantFiles := map[string]bool{}
	for _, ev := range cat.Events {
		name := ev.GoName + ".json"
		wantFiles[name] = true
		raw, ok := received[ev.Name]
		if !assert.True(t, ok, "%s: no message with event %q reached the server", ev.GoName, ev.Name) {
			continue
		}
		assert.True(t, bytes.Contains(raw, []byte(library)), "%s: context.library is not %s", ev.GoName, library)
		raw = bytes.Replace(raw, []byte(library), fmt.Appendf(nil, `"library":{"name":%q,"version":"(Version)"}`, analytics.LibraryName), 1)
		var msg map[string]any
		require.NoError(t, json.Unmarshal(raw, &msg), "%s", ev.GoName)
		assert.Equal(t, ev.Name, msg["event"], "%s: the event, byte for byte the catalog's", ev.GoName)
		checkHelperGoldenKeys(t, cat, &ev, msg)
		checkHelperGolden(t, filepath.Join(helperGoldenDir, name), raw)
	}

	// No golden file is left over from a helper that no longer exists.
	entries, err := os.ReadDir(helperGoldenDir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.True(t, wantFiles[e.Name()], "%s: golden file of no helper; delete it", filepath.Join(helperGoldenDir, e.Name()))
	}
}

// checkHelperGoldenKeys checks that every documented key was sent where the
// catalog places it.
func checkHelperGoldenKeys(t *testing.T, cat *catalog.Catalog, ev *catalog.Event, msg map[string]any) {
	t.Helper()
	props, _ := msg["properties"].(map[string]any)
	ctx, _ := msg["context"].(map[string]any)
	if ev.EmailIdentity {
		assert.Contains(t, props, "email", "%s: properties.email missing", ev.GoName)
	}
	assert.Contains(t, props, "custom_key", "%s: the Extra key custom_key is missing", ev.GoName)
	for _, p := range ev.Properties {
		var ok bool
		switch p.Placement() {
		case catalog.InTop:
			_, ok = msg[p.Key]
		case catalog.InPropertiesAndContext:
			_, ok = props[p.Key]
			_, inCtx := ctx[p.Key]
			ok = ok && inCtx
		case catalog.InContext:
			ok = hasPath(ctx, p.Key)
		default:
			_, ok = props[p.Key]
		}
		if p.Context != "" {
			assert.True(t, hasPath(ctx, p.Context), "%s: key %q: context.%s missing", ev.GoName, p.Key, p.Context)
		}
		assert.True(t, ok, "%s: key %q (%s) missing", ev.GoName, p.Key, p.Placement())
	}
}

// hasPath reports whether the dotted path is set inside m.
func hasPath(m map[string]any, path string) bool {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		o, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = o[k]; !ok {
			return false
		}
	}
	return true
}

// checkHelperGolden compares got, pretty-printed, with the golden file at
// path, or rewrites the file under -update.
func checkHelperGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, got, "", "  "), "%s", path)
	pretty.WriteByte('\n')
	require.False(t, strings.Contains(pretty.String(), helperGoldenKey), "%s: the API key must not appear in a golden file", path)
	if helperGoldenUpdate() {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, pretty.Bytes(), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if !assert.NoError(t, err, "run go test -run TestHelperGolden -update to create it") {
		return
	}
	assert.Equal(t, string(want), pretty.String(), "%s differs (run go test -run TestHelperGolden -update if the change is intended)", path)
}
