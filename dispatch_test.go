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
	t.Parallel()
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
