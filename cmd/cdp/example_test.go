package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// A dry run validates every line with the library and sends nothing; no
// API key is needed. (Here stderr, which names the bad line, is stdout.)
func Example_dryRun() {
	events := `{"type":"identify","userId":"42","traits":{"email":"ann@example.com"}}
{"type":"track","userId":"42","event":"Signed Up","properties":{"plan":"pro"}}
{"type":"track","userId":"43"}
`
	// A clock that moves a second at each reading, for a summary that
	// does not depend on the machine.
	var now time.Time
	clock := func() time.Time { now = now.Add(time.Second); return now }
	e := &env{stdin: strings.NewReader(events), stdout: os.Stdout, stderr: os.Stdout, getenv: os.Getenv, now: clock}
	code := runContext(context.Background(), e, []string{"import", "--dry-run", "--quiet", "--decoders", "1", "-"})
	fmt.Println("exit status", code)
	// Output:
	// -:3: invalid track: event: event name is required
	// cdp import: 3 lines read in 3s (1 lines/s)
	//   valid          2 (dry run: nothing was sent)
	//   invalid        1
	//   blank          0
	//   recent         2 (events less than 72 hours old, or without a timestamp: they can trigger campaigns; see --skip-recent)
	// exit status 1
}
