// Command cdp sends messages to the Customer.io Data Pipelines API with
// github.com/cdpkit/analytics-go: one call from the command line, files of
// events for a back-fill, and lists of people to delete, suppress or
// unsuppress.
//
// Usage:
//
//	cdp track|identify|page|screen|group|alias [flags]
//	cdp send [flags] [JSON | -]
//	cdp import [flags] FILE... (or - for stdin)
//	cdp delete-people|suppress|unsuppress [flags] FILE
//	cdp spool [--json] DIR
//	cdp version
//
// The API key comes from the environment variable CDP_API_KEY, or from the
// file named by --key-file. Run cdp COMMAND --help for the flags of a
// command.
//
// Exit statuses (see exitStatuses):
//
//	0  every line was delivered (a dry run: every line is valid)
//	1  some lines were invalid or refused by the API; the rest were delivered
//	2  usage or setup error; nothing was sent
//	3  the run stopped before the end (a failure that may pass, an interrupt,
//	   an input that cannot be read further); with --checkpoint it resumes
//	4  the API refused the key (401 or 403): check the key and --region
//	5  declined at the confirmation prompt; nothing was sent
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// Exit statuses. A script tells them apart; --help and the README list
// them (exitStatuses).
const (
	exitOK       = 0 // every line was delivered (a dry run: every line is valid)
	exitInvalid  = 1 // some lines were invalid or refused by the API; the rest were delivered
	exitUsage    = 2 // a usage or setup error: nothing was sent
	exitStopped  = 3 // the run stopped before the end; with --checkpoint it resumes
	exitKey      = 4 // the API refused the key (401 or 403)
	exitDeclined = 5 // declined at the confirmation prompt: nothing was sent
)

// exitStatuses is the list of exit statuses that --help shows.
const exitStatuses = `Exit status:
  0  every line was delivered (a dry run: every line is valid)
  1  some lines were invalid or refused by the API; the rest were delivered
  2  usage or setup error; nothing was sent
  3  the run stopped before the end (a failure that may pass, an interrupt,
     an input that cannot be read further); with --checkpoint it resumes
  4  the API refused the key (401 or 403): check the key and --region
  5  declined at the confirmation prompt; nothing was sent
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// env is what a command runs with.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	terminal       bool             // stderr is a terminal
	width          func() int       // the terminal's width in columns, or 0 if unknown
	now            func() time.Time // the clock; nil is time.Now
	// transport sends the HTTP requests, under the --rate limiter; nil
	// means a clone of http.DefaultTransport. Tests set a fake API.
	transport http.RoundTripper
}

// run runs the command line args (without the program name) and returns
// the exit status. An interrupt (SIGINT or SIGTERM) stops reading input;
// what was enqueued is delivered for up to 30 seconds, the checkpoint is
// written, and a second interrupt ends the program at once.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop) // a second signal gets the default behaviour
	return runContext(ctx, &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, terminal: isTerminal(stderr), width: terminalWidth(stderr)}, args)
}

type command struct {
	name, summary string
	run           func(ctx context.Context, e *env, name string, args []string) int
}

var commands []command

func init() {
	commands = []command{
		{"track", "send a track call (an event)", runCall},
		{"identify", "send an identify call (create or update a person)", runCall},
		{"page", "send a page call", runCall},
		{"screen", "send a screen call", runCall},
		{"group", "send a group call (create or update an object)", runCall},
		{"alias", "send an alias call (merge two people)", runCall},
		{"send", "send one message given in the API's JSON shape", runSend},
		{"import", "send files of messages (NDJSON or CSV)", runImport},
		{"delete-people", "delete the people in a file of ids or emails", runPeople},
		{"suppress", "suppress the people in a file of ids or emails", runPeople},
		{"unsuppress", "unsuppress the people in a file of ids or emails", runPeople},
		{"spool", "print what a durable spool directory holds (sends nothing)", runSpool},
		{"version", "print the versions of cdp, the library and Go", runVersion},
	}
}

func runContext(ctx context.Context, e *env, args []string) int {
	// Progress, the library's logger and bad-line reports share stderr
	// from different goroutines.
	e.stderr = &syncWriter{w: e.stderr}
	if len(args) == 0 {
		usage(e.stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			return runContext(ctx, e, []string{args[1], "--help"})
		}
		usage(e.stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, e, c.name, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "cdp: unknown command %q; run \"cdp help\" for the list\n", args[0])
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `cdp sends messages to the Customer.io Data Pipelines API.

Usage:
  cdp COMMAND [flags] [arguments]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
The API key comes from $CDP_API_KEY or from the file named by --key-file.
Run "cdp COMMAND --help" for the flags of a command.

`+exitStatuses)
}

// syncWriter serializes the writes of several goroutines to w, stderr;
// its lock is held for one Write. On a terminal it also keeps the progress
// bar and the other lines apart: a line written while the bar is drawn
// clears the bar first, and the bar is drawn again at the next tick.
type syncWriter struct {
	mu       sync.Mutex
	w        io.Writer
	barShown bool // the bar is on the last line of the terminal
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.barShown {
		s.barShown = false
		if _, err := io.WriteString(s.w, "\r\x1b[K"); err != nil {
			return 0, err
		}
	}
	return s.w.Write(p)
}

// drawBar draws line over the last line of the terminal.
func (s *syncWriter) drawBar(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = io.WriteString(s.w, "\r"+line+"\x1b[K")
	s.barShown = true
}

// parseFlags parses args with fs, allowing flags after the arguments
// (cdp import events.ndjson --dry-run) as well as before. "--" ends the
// flags. It returns the arguments, and the exit status when parsing ends
// the command (-help, or a usage error already reported).
func parseFlags(fs *flag.FlagSet, e *env, args []string) (rest []string, status int, ok bool) {
	// The flag package writes its error and the usage to fs.Output();
	// hold them, to print the usage on stdout for -help (exit 0), or only
	// the error on stderr, with where to find the usage (exit 2).
	var held bytes.Buffer
	fs.SetOutput(&held)
	defer fs.SetOutput(e.stderr)
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(e.stdout)
			fs.Usage()
			return nil, exitOK, false
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "cdp: %v; run \"%s --help\" for the flags\n", err, fs.Name())
			return nil, exitUsage, false
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, 0, true
		}
		if args[0] == "--" {
			return append(rest, args[1:]...), 0, true
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
}

// usageError reports a usage error and returns exitUsage.
func usageError(e *env, format string, a ...any) int {
	fmt.Fprintf(e.stderr, "cdp: "+format+"\n", a...)
	return exitUsage
}

// clock returns the command's clock.
func (e *env) clock() func() time.Time {
	if e.now == nil {
		return time.Now
	}
	return e.now
}
