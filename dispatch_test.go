package analytics

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/cdpkit/analytics-go/internal/gen/generator"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEveryMessageDispatched: encodeKnown (generated) encodes every Message
// type, core (the generator finds them in the source) and typed helper, as
// a value and as a pointer, without an error about the message itself; a
// nil pointer is a validation error, never a panic.
func TestEveryMessageDispatched(t *testing.T) {
	t.Parallel()
	core, err := generator.CoreMessages(".")
	require.NoError(t, err)
	for _, name := range []string{"Identify", "Track", "Page", "Screen", "Group", "Alias"} {
		assert.Contains(t, core, name, "the generator does not find the core type %s", name)
	}
	msgs := append([]Message(nil), coreMessages...)
	assert.Len(t, msgs, len(core), "core messages in the generated table and in the source: run go generate ./...")
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
				assert.Equal(t, errNilMessage, err, "nil %T: want the nil-message error", msg)
				continue
			}
			var ve *ValidationError
			if errors.As(err, &ve) {
				assert.NotEqual(t, "message", ve.Field, "%T: %v", msg, err)
			}
		}
	}
}
