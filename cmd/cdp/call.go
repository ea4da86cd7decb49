package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	analytics "github.com/cdpkit/analytics-go"
)

// keyValues is a repeatable k=v flag; a value that parses as JSON is kept
// as JSON.
type keyValues map[string]any

func (kv *keyValues) String() string { return "" }
func (kv *keyValues) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not key=value", s)
	}
	if *kv == nil {
		*kv = keyValues{}
	}
	(*kv)[k] = parseValue(v)
	return nil
}

// runCall runs track, identify, page, screen, group and alias.
func runCall(ctx context.Context, e *env, name string, args []string) int {
	var (
		conn                                   connFlags
		user, anon, event, page, group, prevID string
		objectType                             string
		props, traits                          keyValues
	)
	fs := flag.NewFlagSet("cdp "+name, flag.ContinueOnError)
	conn.register(fs, false)
	fs.StringVar(&user, "user", "", "the person's `userId`")
	fs.StringVar(&anon, "anon", "", "the person's `anonymousId`")
	switch name {
	case "track":
		fs.StringVar(&event, "event", "", "the event `name`")
	case "page", "screen":
		fs.StringVar(&page, "name", "", "the "+name+" `name`")
	case "group":
		fs.StringVar(&group, "group", "", "the object's `groupId`")
		fs.StringVar(&objectType, "object-type", "", "the object's type `id` in Customer.io (default 1)")
	case "alias":
		fs.StringVar(&prevID, "previous", "", "the `userId` merged into --user")
	}
	switch name {
	case "track", "page", "screen":
		fs.Var(&props, "prop", "a property `key=value`; a value that parses as JSON is sent as JSON (repeatable)")
	case "identify", "group":
		fs.Var(&traits, "trait", "a trait `key=value`; a value that parses as JSON is sent as JSON (repeatable)")
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: cdp %s [flags]\n\nSends one %s call and waits for the API's answer: the exit status is 0 only\nwhen the API accepted it. Prints the messageId.\n\nFlags:\n", name, name)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), "\n"+exitStatuses)
	}
	rest, status, ok := parseFlags(fs, e, args)
	if !ok {
		return status
	}
	if len(rest) > 0 {
		return usageError(e, "%s takes no arguments, got %q", name, rest)
	}
	f := &msgFields{typ: name, userID: user, anonymousID: anon, event: event, name: page, groupID: group,
		objectType: objectType, previousID: prevID, properties: props, traits: traits}
	return sendOne(ctx, e, &conn, f)
}

// runSend sends one message in the API's JSON shape, from the argument or
// stdin.
func runSend(ctx context.Context, e *env, name string, args []string) int {
	var conn connFlags
	fs := flag.NewFlagSet("cdp send", flag.ContinueOnError)
	conn.register(fs, false)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: cdp send [flags] [JSON | -]

Sends one message in the API's JSON shape, given as the argument or on stdin
(without an argument, or with -), and waits for the API's answer: the exit
status is 0 only when the API accepted it. Prints the messageId.

  cdp send '{"type":"track","userId":"42","event":"Signed Up"}'

Flags:
`)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), "\n"+exitStatuses)
	}
	rest, status, ok := parseFlags(fs, e, args)
	if !ok {
		return status
	}
	var data []byte
	switch {
	case len(rest) > 1:
		return usageError(e, "send takes one message, got %d arguments", len(rest))
	case len(rest) == 1 && rest[0] != "-":
		data = []byte(rest[0])
	default:
		b, err := io.ReadAll(io.LimitReader(e.stdin, maxLineBytes+1))
		if err != nil {
			return usageError(e, "reading stdin: %v", err)
		}
		if len(b) > maxLineBytes {
			return callResult(e, &conn, "", errors.New("the message on stdin is longer than 1 MiB (the API takes at most 32 KB per call)"), exitInvalid)
		}
		data = b
	}
	times, _ := newTimeParser("auto")
	var f msgFields
	if err := newLineDecoder(times, nil).decode(data, &f); err != nil {
		return callResult(e, &conn, "", fmt.Errorf("invalid message: %w", err), exitInvalid)
	}
	return sendOne(ctx, e, &conn, &f)
}

// sendOne sends msg, waits for the API's answer, and prints its messageId.
func sendOne(ctx context.Context, e *env, conn *connFlags, f *msgFields) int {
	if err := conn.check(); err != nil {
		return usageError(e, "%v", err)
	}
	key, err := conn.apiKey(e)
	if err != nil {
		return usageError(e, "%v", err)
	}
	opts, err := conn.options(e, 0, false)
	if err != nil {
		return usageError(e, "%v", err)
	}
	outcome := make(chan analytics.Result, 1)
	opts = append(opts, analytics.WithCallback(func(r analytics.Result) { outcome <- r }))
	client, err := analytics.New(key, opts...)
	if err != nil {
		return usageError(e, "%v", libraryError(err))
	}
	defer client.Close()
	if f.messageID == "" {
		f.messageID = newIDMaker("", nil).random()
	}
	id := f.messageID
	if err := client.Enqueue(f.message()); err != nil {
		return callResult(e, conn, "", errors.New(trimLibraryPrefix(err.Error())), exitInvalid)
	}
	interrupted := errors.New("interrupted before the API answered")
	if err := client.Flush(ctx); err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return callResult(e, conn, id, interrupted, exitStopped)
	}
	select {
	case r := <-outcome:
		switch {
		case r.Err == nil:
			return callResult(e, conn, id, nil, exitOK)
		case keyRefused(r.Err):
			return callResult(e, conn, id, fmt.Errorf("the API refused the key (%s): check the key and --region", reason(r.Err)), exitKey)
		case isFinal(r.Err):
			return callResult(e, conn, id, fmt.Errorf("refused by the API: %s", reason(r.Err)), exitInvalid)
		}
		return callResult(e, conn, id, fmt.Errorf("not delivered: %s", reason(r.Err)), exitStopped)
	case <-ctx.Done():
		return callResult(e, conn, id, interrupted, exitStopped)
	}
}

// callJSON is the --json outcome of a single call.
type callJSON struct {
	MessageID string `json:"messageId,omitempty"`
	Delivered bool   `json:"delivered"`
	Error     string `json:"error,omitempty"`
	Exit      int    `json:"exit"`
}

// callResult reports the outcome of a single call, the message id on
// stdout or err on stderr (or one JSON object with --json), and returns
// status.
func callResult(e *env, conn *connFlags, id string, err error, status int) int {
	if conn.json {
		out := callJSON{MessageID: id, Delivered: err == nil, Exit: status}
		if err != nil {
			out.Error = err.Error()
		}
		_ = json.NewEncoder(e.stdout).Encode(out)
		return status
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "cdp: %v\n", err)
		return status
	}
	fmt.Fprintln(e.stdout, id)
	return status
}
