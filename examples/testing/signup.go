package main

import (
	"errors"
	"log/slog"
	"strings"
	"time"

	analytics "github.com/cdpkit/analytics-go"
)

// This file is "your code": a sign-up flow that tells Customer.io about new
// people. signup_test.go tests it with package analyticstest.

// Tracker is the part of *analytics.Client the sign-up flow needs. Taking
// an interface keeps the flow easy to reuse; the tests still pass a real
// *analytics.Client, pointed at a fake API, so that the messages are
// validated and encoded exactly as in production.
type Tracker interface {
	Enqueue(analytics.Message) error
}

// Signups signs people up.
type Signups struct {
	Analytics Tracker
	// NewID returns the id of a new person.
	NewID func() string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// ErrBadEmail is returned by SignUp for an address without an @.
var ErrBadEmail = errors.New("signup: invalid email address")

// SignUp creates a person with the given email address and plan, and
// returns their id. It identifies the person and tracks "Signed Up". A
// failure to enqueue those is logged, not returned: analytics must never
// fail a sign-up.
func (s *Signups) SignUp(email, plan string) (string, error) {
	email = strings.TrimSpace(email)
	if i := strings.IndexByte(email, '@'); i <= 0 || i == len(email)-1 {
		return "", ErrBadEmail
	}
	if plan == "" {
		plan = "free"
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	id := s.NewID()
	// ... store the person in your database here ...

	err := errors.Join(
		s.Analytics.Enqueue(analytics.Identify{
			UserID: id,
			Traits: analytics.Traits{"email": email, "plan": plan, "created_at": now().Unix()},
		}),
		s.Analytics.Enqueue(analytics.Track{
			UserID:     id,
			Event:      "Signed Up",
			Properties: analytics.Properties{"plan": plan, "method": "email"},
		}),
	)
	if err != nil {
		slog.Warn("signup: analytics not sent", "user", id, "error", err)
	}
	return id, nil
}
