package main

import (
	"fmt"
	"os"
	"strings"
)

// A dry run validates every line with the library and sends nothing; no
// API key is needed. (Here stderr, which names the bad line, is stdout.)
func Example_dryRun() {
	events := `{"type":"identify","userId":"42","traits":{"email":"ann@example.com"}}
{"type":"track","userId":"42","event":"Signed Up","properties":{"plan":"pro"}}
{"type":"track","userId":"43"}
`
	code := run([]string{"import", "--dry-run", "--quiet", "-"}, strings.NewReader(events), os.Stdout, os.Stdout)
	fmt.Println("exit status", code)
	// Output:
	// -:3: invalid track: event: event name is required
	// cdp import: 3 lines read
	//   valid          2 (dry run: nothing was sent)
	//   invalid        1
	//   blank          0
	// exit status 1
}
