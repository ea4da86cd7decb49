package analytics

import (
	"fmt"
	"net/netip"
	"strings"
)

// A Transform shapes a message before it leaves: it may change anything in
// the Envelope, and returns false to drop the message on purpose.
//
// Transforms run in Enqueue and EnqueueContext, on the caller's goroutine,
// in the order WithTransform was given them, on every kind of message,
// before the message is validated and encoded. A transform may therefore
// run on many goroutines at once: one that keeps state must synchronize
// it. It must not call the client's methods.
type Transform func(*Envelope) bool

// WithTransform makes Enqueue pass every message through fns, in order,
// after those of earlier WithTransform options, before it validates and
// encodes it (see Envelope for what a transform sees and may change).
//
// A transform that returns false drops the message: Enqueue returns nil,
// the later transforms do not run, nothing is sent, and the drop is
// counted in Stats.DroppedByTransform, which is not a failure (WithCallback
// is not called: the message was never accepted).
//
// Validation runs after the transforms, with the same rules as without
// them: what the transforms left is rebuilt into the message it describes
// (a typed helper stays that helper while its Type and Event are unchanged,
// each of its fields read back from its place on the wire) and then
// validated and encoded as Enqueue does any message. A transform that
// removes the UserID of a DeletePerson gets the *ValidationError of a
// DeletePerson without one. A value at the place of a helper's field is
// checked as the field, even one that came from Extra or, for the fields
// sent in context, from the message's Context.
//
// Transforms fail closed. One that panics refuses its message: Enqueue
// returns a *TransformError that holds the panic value (and wraps it, if it
// is an error) and names the transform's position in the chain; nothing of
// the message is sent, the process goes on, and the refusal is counted in
// Stats.RejectedByTransform. The first such panic is logged at Error.
//
// With no transform, Enqueue costs what it costs without this option. With
// transforms, every message is copied into an Envelope and back, which
// costs allocations (BENCHMARKS.md has the figures). New returns an error
// for a nil function.
func WithTransform(fns ...Transform) Option {
	return func(c *config) error {
		for i, fn := range fns {
			if fn == nil {
				return optionError("WithTransform", "function %d is nil", i)
			}
		}
		c.transforms = append(c.transforms, fns...)
		return nil
	}
}

// TransformError is the error of Enqueue for a message a transform
// panicked on. errors.As finds it; errors.Is and errors.As also see the
// panic value through it when that value is an error.
type TransformError struct {
	// Index is the transform's position in the chain, from 0, counting
	// the functions of every WithTransform option in order.
	Index int
	// Type and Event say which message it was, as the transform got it.
	Type, Event string
	// Value is the value the transform panicked with.
	Value any
}

func (e *TransformError) Error() string {
	return fmt.Sprintf("analytics: transform %d panicked on %s; message refused: %v", e.Index, describe(e.Type, e.Event), e.Value)
}

// Unwrap returns the panic value if it is an error, else nil.
func (e *TransformError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// shape turns msg into an Envelope, with under (the defaults of its
// context) merged in, runs the transforms on it and returns the message
// they leave, or nil if one dropped it. It runs on Enqueue's goroutine.
func (c *Client) shape(e *encoder, msg Message, under *Context) (Message, error) {
	if msg == nil {
		return nil, &ValidationError{Field: "message", Reason: "nil Message"}
	}
	env := &Envelope{}
	if err := envelopeOf(env, msg); err != nil {
		return nil, err
	}
	if env.Timestamp.IsZero() {
		env.Timestamp = e.now
	}
	if env.MessageID == "" {
		env.MessageID = e.newMessageID()
	}
	env.Context = fillContext(env.Context, under)
	for i, fn := range c.cfg.transforms {
		keep, err := runTransform(i, fn, env)
		if err != nil {
			return nil, err
		}
		if !keep {
			return nil, nil
		}
	}
	return env.message()
}

// runTransform calls fn, turning a panic into a *TransformError.
func runTransform(i int, fn Transform, env *Envelope) (keep bool, err error) {
	typ, event := env.Type, env.Event
	defer func() {
		if r := recover(); r != nil {
			err = &TransformError{Index: i, Type: typ, Event: event, Value: r}
		}
	}()
	return fn(env), nil
}

// --- built-in transforms ---

// RedactKeys returns a Transform that removes the given keys, compared
// without regard to case, from the traits, the properties, the
// relationship attributes, and context.traits and the other maps of the
// context (Extra, Campaign.Extra) of every message, at any depth: inside
// nested maps and lists too. A typed helper's fields are where they go on
// the wire, so RedactKeys("email") removes a DeletePerson's
// properties.email (its userId, which may be the same address, is an
// identifier and stays). The keys a core call writes from fields of its
// own (a page's Category as properties.category, a group's ObjectTypeID
// as traits.object_type_id, an identify's ObjectID) are fields of the
// Envelope, not map keys, and are left alone. It never drops a message;
// one that redaction leaves without an identifier (an identify named only
// by traits.email) is refused by validation, with a *ValidationError.
func RedactKeys(keys ...string) Transform {
	keys = append([]string(nil), keys...)
	return func(env *Envelope) bool {
		redactMap(env.Traits, keys)
		redactMap(env.RelationshipAttributes, keys)
		redactMap(env.Properties, keys)
		if c := env.Context; c != nil {
			redactMap(c.Traits, keys)
			redactMap(c.Extra, keys)
			if c.Campaign != nil {
				redactMap(c.Campaign.Extra, keys)
			}
		}
		return true
	}
}

// redactMap deletes keys from m and the maps nested in it.
func redactMap[M ~map[string]any](m M, keys []string) {
	for k, v := range m {
		if hasKey(keys, k) {
			delete(m, k)
			continue
		}
		redactValue(v, keys)
	}
}

func redactValue(v any, keys []string) {
	switch x := v.(type) {
	case map[string]any:
		redactMap(x, keys)
	case Properties:
		redactMap(x, keys)
	case Traits:
		redactMap(x, keys)
	case []any:
		for _, e := range x {
			redactValue(e, keys)
		}
	case []map[string]any:
		for _, m := range x {
			redactMap(m, keys)
		}
	}
}

func hasKey(keys []string, k string) bool {
	for _, key := range keys {
		if strings.EqualFold(key, k) {
			return true
		}
	}
	return false
}

// eventName is what DropEvents and SampleEvents match: a track call's
// event, a page's or a screen's name; "" for the other calls.
func eventName(env *Envelope) string {
	switch env.Type {
	case "track":
		return env.Event
	case "page", "screen":
		return env.Name
	}
	return ""
}

// DropEvents returns a Transform that drops the track calls whose event
// is one of names, and the page and screen calls whose name is one of
// them; names are compared exactly. Identify, group and alias calls are
// never dropped. A Customer.io action such as "User Deleted" is dropped
// only if it is named.
func DropEvents(names ...string) Transform {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return func(env *Envelope) bool {
		name := eventName(env)
		return name == "" || !set[name]
	}
}

// SampleEvents returns a Transform that keeps a share rate (from 0 to 1)
// of the track, page and screen calls named names (a track's event, a
// page's or a screen's name), or of all of them if no name is given, and
// drops the others.
//
// It never samples an identify, group or alias call, nor a track call
// whose event triggers a Customer.io action other than Track Event ("User
// Deleted", "User Suppressed", "Device Created or Updated", "Application
// Installed" and the other events of the typed helpers of semantic.go and
// of the device lifecycle): those change people, devices and objects, and
// a sampled one would be a person not deleted or a device not registered.
// Name such an event in DropEvents to drop it on purpose.
//
// The choice is made from the message's id (its MessageID, the one
// Enqueue made for it otherwise), so it needs no lock, and a message
// enqueued again with the same id is kept or dropped again. SampleEvents
// panics if rate is not between 0 and 1.
func SampleEvents(rate float64, names ...string) Transform {
	if !(rate >= 0 && rate <= 1) {
		panic(fmt.Sprintf("analytics: SampleEvents: rate %v is not between 0 and 1", rate))
	}
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	// Keep a message when the top 53 bits of its id's hash, as a number
	// in [0, 1), fall below rate.
	limit := uint64(rate * (1 << 53))
	return func(env *Envelope) bool {
		name := eventName(env)
		switch {
		case name == "", env.Type == "track" && isAction(name):
			return true
		case len(set) > 0 && !set[name]:
			return true
		}
		return hashID(env.MessageID)>>11 < limit
	}
}

// hashID hashes a message id to 64 bits that look uniformly random even
// for ids that differ in one character (msg-1, msg-2): FNV-1a, then the
// finalizer of MurmurHash3, which spreads every input bit over the word.
func hashID(id string) uint64 {
	x := uint64(14695981039346656037) // FNV-1a's offset basis and prime
	for i := 0; i < len(id); i++ {
		x ^= uint64(id[i])
		x *= 1099511628211
	}
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// AnonymizeIP returns a Transform that shortens the IP address in
// context.ip (Context.IP) to its network: the last 8 bits of an IPv4
// address and the last 80 of an IPv6 address are set to zero
// (203.0.113.7 becomes 203.0.113.0), as web analytics tools anonymize
// addresses. Customer.io still infers a country, a region and a time zone
// from what is left, but no longer a household. A context.ip that is not
// an IP address is removed.
func AnonymizeIP() Transform {
	return func(env *Envelope) bool {
		c := env.Context
		if c == nil || c.IP == "" {
			return true
		}
		addr, err := netip.ParseAddr(c.IP)
		if err != nil {
			c.IP = ""
			return true
		}
		addr = addr.Unmap().WithZone("")
		bits := 48
		if addr.Is4() {
			bits = 24
		}
		p, _ := addr.Prefix(bits)
		c.IP = p.Addr().String()
		return true
	}
}
