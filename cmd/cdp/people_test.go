package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// peopleFile writes n people, alternately a user id and an email.
func peopleFile(t *testing.T, n int) (string, []string) {
	var people []string
	for i := range n {
		if i%2 == 0 {
			people = append(people, fmt.Sprintf("user-%d", i))
		} else {
			people = append(people, fmt.Sprintf("person%d@example.com", i))
		}
	}
	return writeFile(t, "people.txt", strings.Join(people, "\n")+"\n"), people
}

func TestDeletePeople1000IdsAndEmails(t *testing.T) {
	srv := newServer(t)
	file, people := peopleFile(t, 1000)

	r := cdp(t, "", "delete-people", "--yes", "--endpoint", srv.URL, file)

	if r.code != exitOK {
		t.Fatalf("%s", r)
	}
	deleted := srv.ByEvent("User Deleted")
	if len(deleted) != 1000 || len(srv.Messages()) != 1000 {
		t.Fatalf("%d User Deleted calls of %d messages, want 1000", len(deleted), len(srv.Messages()))
	}
	got := map[string]int{}
	for _, m := range deleted {
		got[m.UserID]++
	}
	for _, p := range people {
		if got[p] != 1 {
			t.Errorf("userId %q sent %d times, want once", p, got[p])
		}
	}
	if !strings.Contains(r.stdout, "delivered      1000") {
		t.Errorf("summary:\n%s", r.stdout)
	}
}

func TestSuppressAndUnsuppressSendTheEmailAsUserID(t *testing.T) {
	for cmd, event := range map[string]string{"suppress": "User Suppressed", "unsuppress": "User Unsuppressed"} {
		t.Run(cmd, func(t *testing.T) {
			srv := newServer(t)
			file := writeFile(t, "p.txt", "42\nann@example.com\n")
			if r := cdp(t, "", cmd, "--yes", "--endpoint", srv.URL, file); r.code != exitOK {
				t.Fatalf("%s", r)
			}
			got := srv.ByEvent(event)
			if len(got) != 2 || got[0].UserID != "42" || got[1].UserID != "ann@example.com" {
				t.Fatalf("got %v", got)
			}
			// The email is named as an email too, through the helper's Email field.
			if got[1].Properties["email"] != "ann@example.com" || got[0].Properties["email"] != nil {
				t.Errorf("properties.email: %v, %v", got[0].Properties["email"], got[1].Properties["email"])
			}
		})
	}
}

func TestDeletePeopleFromCSVColumn(t *testing.T) {
	srv := newServer(t)
	file := writeFile(t, "p.csv", "name,email\nAnn,ann@example.com\nBob,\nCy,cy@example.com\n")
	badFile := filepath.Join(t.TempDir(), "bad.ndjson")
	r := cdp(t, "", "delete-people", "--yes", "--column", "email", "--bad", badFile, "--endpoint", srv.URL, file)
	if r.code != exitInvalid {
		t.Fatalf("want exit 1 for Bob's empty email:\n%s", r)
	}
	got := srv.ByEvent("User Deleted")
	if len(got) != 2 || got[0].UserID != "ann@example.com" || got[1].UserID != "cy@example.com" {
		t.Fatalf("got %v", got)
	}
	if lines := readLines(t, badFile); len(lines) != 1 || !strings.Contains(lines[0], `"line":3`) {
		t.Errorf("bad file %v", lines)
	}
}

func TestDeletePeopleAsksForConfirmation(t *testing.T) {
	srv := newServer(t)
	file, _ := peopleFile(t, 3)

	r := cdp(t, "no\n", "delete-people", "--endpoint", srv.URL, file)
	if r.code != exitDeclined || len(srv.Requests()) != 0 {
		t.Fatalf("answer no: want exit 1 and nothing sent:\n%s", r)
	}
	if !strings.Contains(r.stderr, "delete 3 people") {
		t.Errorf("prompt does not show the count:\n%s", r.stderr)
	}

	r = cdp(t, "yes\n", "delete-people", "--endpoint", srv.URL, file)
	if r.code != exitOK || len(srv.ByEvent("User Deleted")) != 3 {
		t.Fatalf("answer yes: want 3 deletions:\n%s", r)
	}

	r = cdp(t, "user-1\n", "delete-people", "--endpoint", srv.URL, "-")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("people on stdin without --yes: want exit 2:\n%s", r)
	}
}

func TestDeletePeopleMissingColumnIsUsageError(t *testing.T) {
	srv := newServer(t)
	file := writeFile(t, "p.csv", "name,mail\nAnn,ann@example.com\n")
	r := cdp(t, "", "delete-people", "--yes", "--column", "email", "--endpoint", srv.URL, file)
	if r.code != exitUsage || !strings.Contains(r.stderr, `no column "email"`) || len(srv.Requests()) != 0 {
		t.Fatalf("want exit 2 naming the column, nothing sent:\n%s", r)
	}
}
