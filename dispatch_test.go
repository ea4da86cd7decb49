package analytics

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/cdpkit/analytics-go/internal/gen/generator"
)

// TestEveryMessageDispatched: encodeKnown (generated) encodes every Message
// type, core (the generator finds them in the source) and typed helper, as
// a value and as a pointer, without an error about the message itself; a
// nil pointer is a validation error, never a panic.
func TestEveryMessageDispatched(t *testing.T) {
	core, err := generator.CoreMessages(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Identify", "Track", "Page", "Screen", "Group", "Alias"} {
		if !slices.Contains(core, name) {
			t.Errorf("the generator does not find the core type %s (found %v)", name, core)
		}
	}
	msgs := append([]Message(nil), coreMessages...)
	if len(msgs) != len(core) {
		t.Errorf("%d core messages in the generated table, %d in the source: run go generate ./...", len(msgs), len(core))
	}
	for _, m := range FilledHelpersForTest(t) {
		msgs = append(msgs, m)
	}
	for _, m := range msgs {
		v := reflect.ValueOf(m)
		ptr := reflect.New(v.Type())
		ptr.Elem().Set(v)
		nilPtr := reflect.Zero(ptr.Type())
		for _, msg := range []Message{m, ptr.Interface().(Message), nilPtr.Interface().(Message)} {
			e := &encoder{now: time.Unix(0, 0), library: `"library":{}`}
			err := encodeMessage(e, msg)
			if rv := reflect.ValueOf(msg); rv.Kind() == reflect.Pointer && rv.IsNil() {
				if err != errNilMessage {
					t.Errorf("nil %T: got %v, want the nil-message error", msg, err)
				}
				continue
			}
			var ve *ValidationError
			if errors.As(err, &ve) && ve.Field == "message" {
				t.Errorf("%T: %v", msg, err)
			}
		}
	}
}

// notGenerated is a Message type the generated dispatch does not list, as a
// type added to the package since the last go generate would be.
type notGenerated struct{ Track }

func (m notGenerated) appendMessage(e *encoder) error { return m.Track.appendMessage(e) }

// TestUnlistedMessageTypeWorks: a Message type missing from the generated
// type switch is encoded through the interface, not refused at run time.
func TestUnlistedMessageTypeWorks(t *testing.T) {
	e := &encoder{now: time.Unix(0, 0), library: `"library":{}`}
	if err := encodeMessage(e, notGenerated{Track{UserID: "u", Event: "E"}}); err != nil {
		t.Fatalf("unlisted type: %v", err)
	}
	if e.typ != "track" || e.event != "E" || len(e.buf) == 0 {
		t.Errorf("encoded %q as %s %q", e.buf, e.typ, e.event)
	}
}
