package analytics

import (
	"errors"
	"strconv"
	"strings"

	"github.com/cdpkit/analytics-go/internal/jsonw"
)

// The encoder's checks of a message, and the *ValidationError each
// returns. The generated typed helpers call them too. Every error names the
// field by its wire path.

// invalid returns a *ValidationError for field of the message being
// encoded. field and reason must not be strings of the message (see the
// encoder's fields): build them by concatenation or strings.Clone.
func (e *encoder) invalid(field, reason string) error {
	return &ValidationError{Type: e.typ, Event: e.eventName(), Field: field, Reason: reason}
}

// withEvent sets the event name of err, a *ValidationError found before
// begin wrote the name into buf, to a copy of event.
func withEvent(err error, event string) error {
	if ve, ok := err.(*ValidationError); ok && ve.Event == "" {
		ve.Event = strings.Clone(event)
	}
	return err
}

// wrap turns an encoding error inside the value at field into a
// *ValidationError naming the full path.
func (e *encoder) wrap(field string, err error) error {
	var je *jsonw.Error
	if errors.As(jsonw.Prefix(err, field), &je) {
		return e.invalid(je.Path, je.Reason)
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		// Already named inside the value at field: prefix the path
		// rather than nest the whole message in the reason.
		return e.invalid(field+"."+ve.Field, ve.Reason)
	}
	return e.invalid(field, err.Error())
}

// shapePath returns the wire path of key inside the value at base, which is
// element i of an array when i >= 0. An empty key names the value itself.
// The typed helpers build it only for an error, so that a valid message
// costs no string.
func shapePath(base string, i int, key string) string {
	p := base
	if i >= 0 {
		p += "[" + strconv.Itoa(i) + "]"
	}
	if key != "" {
		p += "." + key
	}
	return p
}

// blank reports whether s is empty or only spaces. A blank identifier
// counts as absent: it is neither accepted as a person's name nor sent.
func blank(s string) bool { return strings.TrimSpace(s) == "" }

// required rejects a required identifier that is blank.
func (e *encoder) required(field, value string) error {
	if blank(value) {
		return e.invalid(field, "is required")
	}
	return nil
}

// requireIdentity checks that a person is named.
func (e *encoder) requireIdentity(userID, anonymousID string) error {
	if blank(userID) && blank(anonymousID) {
		return e.invalid("userId", "userId or anonymousId is required")
	}
	return nil
}

// requireUserID checks the identity of an event that needs a userId.
func (e *encoder) requireUserID(userID string) error {
	if blank(userID) {
		return e.invalid("userId", "userId is required for this event (an anonymousId is not enough)")
	}
	return nil
}

// requireUserIDOrEmail checks the identity of an event that needs a userId
// or, without one, an email (sent as the userId).
func (e *encoder) requireUserIDOrEmail(userID, email string) error {
	if blank(userID) && blank(email) {
		return e.invalid("userId", "userId or an email is required for this event (without a userId the email is sent as the userId)")
	}
	return nil
}

// requireAnonymousID checks the identity of an event Customer.io reads
// only the anonymousId of.
func (e *encoder) requireAnonymousID(anonymousID string) error {
	if blank(anonymousID) {
		return e.invalid("anonymousId", "anonymousId is required for this event: Customer.io names its person only by anonymousId, so a userId alone does nothing")
	}
	return nil
}

// checkObjectType checks that v is a stringified positive integer.
func checkObjectType(e *encoder, field, v string) error {
	if n, err := strconv.ParseUint(v, 10, 32); err != nil || n == 0 {
		return e.invalid(field, "must be a positive integer in a string, such as \"1\", not "+strconv.Quote(v))
	}
	return nil
}

// badEnum reports a value outside a property's documented values, listed in
// allowed.
func (e *encoder) badEnum(field, got, allowed string) error {
	return e.invalid(field, "must be one of "+allowed+", not "+strconv.Quote(got))
}

// outOfRange reports a number outside a property's bounds; want says which.
func (e *encoder) outOfRange(field string, got float64, want string) error {
	return e.invalid(field, want+", not "+strconv.FormatFloat(got, 'g', -1, 64))
}

// notFinite reports a NaN or infinite number, which JSON cannot hold (see
// encoder.float).
func (e *encoder) notFinite(field string, v float64) error {
	return e.invalid(field, "number "+strconv.FormatFloat(v, 'g', -1, 64)+" has no JSON form")
}
