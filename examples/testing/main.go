// Command testing shows how to test your own code that uses analytics-go.
// The code under test is signup.go; the tests, which use the fake Data
// Pipelines API of package analyticstest, are in signup_test.go:
//
//	go test ./examples/testing
//
// Running the command signs one person up against a fake API in process
// (or against Customer.io when CDP_API_KEY is set) and prints what the
// fake received.
package main

import (
	"fmt"
	"io"
	"os"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
)

func main() {
	if err := run(os.Stdout, os.Getenv("CDP_API_KEY")); err != nil {
		fmt.Fprintln(os.Stderr, "testing:", err)
		os.Exit(1)
	}
}

// run signs one person up, with key or, if key is empty, against a fake
// API whose messages it prints to w.
func run(w io.Writer, key string) error {
	var opts []analytics.Option
	var fake *analyticstest.Server
	if key == "" {
		fake = analyticstest.NewServer(nil) // with a nil testing.TB, we must Close it
		defer fake.Close()
		key, opts = "offline-key", append(opts, analytics.WithEndpoint(fake.URL))
	}
	client, err := analytics.New(key, opts...)
	if err != nil {
		return err
	}
	s := &Signups{Analytics: client, NewID: func() string { return "user-1" }}
	_, err = s.SignUp("ada@example.com", "pro")
	if cerr := client.Close(); err == nil {
		err = cerr
	}
	if err == nil && fake != nil {
		for _, m := range fake.Messages() {
			fmt.Fprintln(w, m)
		}
	}
	return err
}
