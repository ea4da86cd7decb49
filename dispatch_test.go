package analytics

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// TestEveryMessageDispatched: encodeKnown (generated) encodes every Message
// type, core (the generator finds them in the source) and typed helper, as
// a value and as a pointer, without a validation error about the message
// itself; a nil pointer is a validation error, never a panic.
func TestEveryMessageDispatched(t *testing.T) {
	msgs := append([]Message(nil), coreMessages...)
	if len(msgs) < 6 {
		t.Fatalf("core messages %v: the generator found fewer than the six core calls", msgs)
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
			var ve *ValidationError
			if errors.As(err, &ve) && ve.Field == "message" && msg != nil && !(reflect.ValueOf(msg).Kind() == reflect.Pointer && reflect.ValueOf(msg).IsNil()) {
				t.Errorf("%T: %v", msg, err)
			}
			if reflect.ValueOf(msg).Kind() == reflect.Pointer && reflect.ValueOf(msg).IsNil() && err != errNilMessage {
				t.Errorf("nil %T: got %v, want the nil-message error", msg, err)
			}
		}
	}
}
