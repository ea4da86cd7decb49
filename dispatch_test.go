package analytics

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// TestEveryMessageDispatched: encodeKnown (generated) knows every Message
// type, as a value and as a pointer, so none is refused as unsupported; a
// nil pointer is a validation error, never a panic.
func TestEveryMessageDispatched(t *testing.T) {
	msgs := []Message{Identify{}, Track{}, Page{}, Screen{}, Group{}, Alias{}}
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
			if errors.Is(err, errUnknownMessage) {
				t.Errorf("%T is not dispatched: run go generate ./...", msg)
			}
			if reflect.ValueOf(msg).Kind() == reflect.Pointer && reflect.ValueOf(msg).IsNil() && err != errNilMessage {
				t.Errorf("nil %T: got %v, want the nil-message error", msg, err)
			}
		}
	}
}
