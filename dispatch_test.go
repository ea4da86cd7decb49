package analytics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
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

// userTrack is a user's Message type: a struct that embeds a core message,
// and so has its appendMessage by promotion. The generated dispatch does not
// list it.
type userTrack struct {
	Track
	Note string
}

// TestUnlistedMessageTypeRejected: Enqueue refuses a Message type the
// generated type switch does not list with a *ValidationError on the field
// "message" that names the type and says to pass the embedded core message;
// nothing is queued, and the embedded message itself is accepted.
func TestUnlistedMessageTypeRejected(t *testing.T) {
	c, err := New("key", WithEndpoint("http://127.0.0.1:1"), WithHTTPClient(&http.Client{Transport: acceptTransport{}}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := userTrack{Track: Track{UserID: "u", Event: "E"}, Note: "n"}
	for _, m := range []Message{msg, &msg} {
		err := c.Enqueue(m)
		var ve *ValidationError
		if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidMessage) {
			t.Fatalf("Enqueue(%T): got %v, want a *ValidationError", m, err)
		}
		if ve.Field != "message" {
			t.Errorf("Field = %q, want message", ve.Field)
		}
		for _, want := range []string{reflect.TypeOf(m).String(), "pass the core message it embeds"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	}
	if got := c.Stats().Enqueued; got != 0 {
		t.Errorf("%d messages queued, want 0", got)
	}
	if err := c.Enqueue(msg.Track); err != nil {
		t.Errorf("the embedded Track: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Errorf("Flush: %v", err)
	}
	if st := c.Stats(); st.Enqueued != 1 || st.Delivered != 1 {
		t.Errorf("enqueued %d, delivered %d, want 1 and 1", st.Enqueued, st.Delivered)
	}
}

// acceptTransport answers every request with 200 and an empty object.
type acceptTransport struct{}

func (acceptTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
}
