package analytics

import (
	"bytes"
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/cdpkit/analytics-go/internal/noescape"
)

// Enqueue hides the message from escape analysis (hideMessage), so a
// caller's message may live on its stack while it is encoded. These tests
// check the rules that makes safe.

// TestEscapeInvariants compiles the package with -gcflags=-m and fails on
// any heap allocation in the encoding code that could hold a pointer into a
// message: a message field converted to an interface, a variable or closure
// moved to the heap. Allocations of new data (append, make, string
// concatenation, errors, the heap copies of heapCopier) are allowed. It also
// checks that every caller of withDevice, which copies part of a message to
// the heap, is the appendMessage of a heapCopier.
func TestEscapeInvariants(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the package")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}

	// The encoding files: those with encoder methods or messages.
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, de := range entries {
		if n := de.Name(); strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			f, err := parser.ParseFile(fset, n, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
	}
	type span struct {
		file       string
		start, end int    // lines
		fn, recv   string // function name and receiver type
	}
	var funcs []span
	encoding := map[string]bool{}
	heapCopiers := map[string]bool{}
	var withDeviceCallers []span
	for _, f := range files {
		name := fset.Position(f.Pos()).Filename
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			s := span{file: name, start: fset.Position(fd.Pos()).Line, end: fset.Position(fd.End()).Line, fn: fd.Name.Name}
			if fd.Recv != nil && len(fd.Recv.List) == 1 {
				typ := fd.Recv.List[0].Type
				if st, ok := typ.(*ast.StarExpr); ok {
					typ = st.X
				}
				if id, ok := typ.(*ast.Ident); ok {
					s.recv = id.Name
				}
				if s.recv == "encoder" || s.fn == "appendMessage" || s.fn == "appendJSON" {
					encoding[name] = true
				}
				if s.fn == "encodeHeapCopy" {
					heapCopiers[s.recv] = true
				}
			}
			funcs = append(funcs, s)
			ast.Inspect(fd, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "withDevice" {
						withDeviceCallers = append(withDeviceCallers, s)
					}
				case *ast.AssignStmt:
					// encoder.typ and encoder.event outlive the call:
					// a string constant or intern(...) only.
					for i, lhs := range n.Lhs {
						sel, ok := lhs.(*ast.SelectorExpr)
						if !ok || sel.Sel.Name != "typ" && sel.Sel.Name != "event" {
							continue
						}
						if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "e" || len(n.Rhs) != len(n.Lhs) {
							continue
						}
						switch r := n.Rhs[i].(type) {
						case *ast.BasicLit:
							continue
						case *ast.CallExpr:
							if id, ok := r.Fun.(*ast.Ident); ok && id.Name == "intern" {
								continue
							}
						}
						t.Errorf("%s: e.%s must be set to a string constant or intern(...): it outlives Enqueue (see hideMessage)",
							fset.Position(n.Pos()), sel.Sel.Name)
					}
				}
				return true
			})
		}
	}
	for _, s := range withDeviceCallers {
		if s.fn != "appendMessage" || !heapCopiers[s.recv] {
			t.Errorf("%s:%d: %s.%s calls withDevice, which copies part of the message to the heap, but %s has no encodeHeapCopy (see hideMessage)",
				s.file, s.start, s.recv, s.fn, s.recv)
		}
	}
	enclosing := func(file string, line int) span {
		for _, s := range funcs {
			if s.file == file && s.start <= line && line <= s.end {
				return s
			}
		}
		return span{file: file} // package level
	}

	cmd := exec.Command(goTool, "build", "-gcflags=-m", ".")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build -gcflags=-m: %v\n%s", err, out)
	}
	line := regexp.MustCompile(`^\./([^:]+\.go):(\d+):\d+: (.*)$`)
	allowedFuncs := map[string]bool{
		// Heap copies made on purpose, and their helpers.
		"heapCopy": true, "encodeHeapCopy": true, "cloneOf": true, "withDevice": true,
		// Not part of encoding a message's fields.
		"intern": true, "wrap": true, "Float64": true, "Int": true, "Bool": true,
	}
	checked := 0
	for _, l := range strings.Split(string(out), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil || !encoding[m[1]] {
			continue
		}
		msg := m[3]
		if !strings.Contains(msg, "escapes to heap") && !strings.HasPrefix(msg, "moved to heap:") {
			continue
		}
		checked++
		n, _ := strconv.Atoi(m[2])
		fn := enclosing(m[1], n)
		switch {
		case strings.HasPrefix(msg, "append escapes"), strings.HasPrefix(msg, "make("), strings.HasPrefix(msg, "new("),
			strings.Contains(msg, " + "), // a concatenation is new data
			strings.HasPrefix(msg, "&ValidationError{...}"),
			fn.fn == "", // package-level variables
			allowedFuncs[fn.fn],
			// withDevice inlined into the appendMessage of a heapCopier
			fn.fn == "appendMessage" && heapCopiers[fn.recv] && (msg == "moved to heap: info" || msg == "moved to heap: merged"):
			continue
		}
		t.Errorf("%s:%d: %s (in %s.%s): a heap object made while encoding may point into the message, which may live on the caller's stack; see hideMessage",
			m[1], n, msg, fn.recv, fn.fn)
	}
	if checked == 0 {
		t.Fatalf("no escape analysis output in:\n%s", out)
	}
}

// TestContextHeapCopy checks that Context.heapCopy copies every field and
// shares no memory with the original but the contents of maps.
func TestContextHeapCopy(t *testing.T) {
	var c Context
	fill(reflect.ValueOf(&c).Elem(), 0)
	h := c.heapCopy()
	if !reflect.DeepEqual(&c, h) {
		t.Fatalf("copy differs:\n%+v\n%+v", c, *h)
	}
	noSharing(t, "Context", reflect.ValueOf(c), reflect.ValueOf(*h))
	if (*Context)(nil).heapCopy() != nil {
		t.Fatal("copy of nil")
	}
}

// fill sets every field reachable from v to a non-zero value.
func fill(v reflect.Value, n int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + strconv.Itoa(n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int:
		v.SetInt(int64(n + 1))
	case reflect.Float64:
		v.SetFloat(float64(n) + 0.5)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), n+1)
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), n+i)
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		fill(s.Index(0), n+1)
		fill(s.Index(1), n+2)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		m.SetMapIndex(reflect.ValueOf("k"+strconv.Itoa(n)), reflect.ValueOf(any(n)))
		v.Set(m)
	default:
		panic("fill: unhandled kind " + v.Kind().String())
	}
}

// noSharing fails if a and b, equal values, share a pointer, string data,
// slice array or map.
func noSharing(t *testing.T, path string, a, b reflect.Value) {
	t.Helper()
	switch a.Kind() {
	case reflect.String:
		if a.Len() > 0 && unsafe.StringData(a.String()) == unsafe.StringData(b.String()) {
			t.Errorf("%s: string shared", path)
		}
	case reflect.Pointer:
		if !a.IsNil() {
			if a.Pointer() == b.Pointer() {
				t.Errorf("%s: pointer shared", path)
			}
			noSharing(t, path, a.Elem(), b.Elem())
		}
	case reflect.Struct:
		for i := range a.NumField() {
			noSharing(t, path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))
		}
	case reflect.Slice:
		if a.Len() > 0 && a.Pointer() == b.Pointer() {
			t.Errorf("%s: slice shared", path)
		}
		for i := range a.Len() {
			noSharing(t, path+"["+strconv.Itoa(i)+"]", a.Index(i), b.Index(i))
		}
	case reflect.Map:
		if !a.IsNil() && a.Pointer() == b.Pointer() {
			t.Errorf("%s: map shared", path)
		}
	}
}

// deepMarshaler recurses n frames deep in MarshalJSON, so that encoding a
// message holding one grows the goroutine's stack, moving the message if it
// lives there.
type deepMarshaler struct{ n int }

func (d deepMarshaler) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Itoa(recurse(d.n, [64]byte{}))), nil
}

//go:noinline
func recurse(n int, pad [64]byte) int {
	if n == 0 {
		return int(pad[0])
	}
	return recurse(n-1, pad) + 1
}

// recordingTransport keeps the messages of every request body.
type recordingTransport struct {
	mu   sync.Mutex
	msgs []json.RawMessage
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var env struct{ Batch []json.RawMessage }
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(r.Body)
	_ = r.Body.Close()
	if err := json.Unmarshal(buf.Bytes(), &env); err != nil {
		return nil, err
	}
	rt.mu.Lock()
	rt.msgs = append(rt.msgs, env.Batch...)
	rt.mu.Unlock()
	return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
}

// TestStackMessages enqueues messages built in place, whose strings,
// products, Context and maps the compiler may put on the goroutine's stack,
// while a value in them grows that stack during encoding and other
// goroutines churn stacks and the heap; each must encode exactly as the
// same message built on the heap, and its Result must name its event.
func TestStackMessages(t *testing.T) {
	if !noescape.Enabled {
		t.Log("messages are heap-allocated on this architecture; testing anyway")
	}
	var results sync.Map
	var idMu sync.Mutex
	next := 0
	newClient := func(rt http.RoundTripper) *Client {
		c, err := New("key",
			WithEndpoint("http://127.0.0.1:1"),
			WithHTTPClient(&http.Client{Transport: rt}),
			WithClock(func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }),
			WithMessageIDs(func() string {
				idMu.Lock()
				defer idMu.Unlock()
				next++
				return "id-" + strconv.Itoa(next)
			}),
			WithCallback(func(r Result) {
				if r.Err == nil {
					results.Store(r.MessageID, r.Event)
				}
			}),
			WithQueueCapacity(100_000),
		)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	stackRT, heapRT := &recordingTransport{}, &recordingTransport{}
	onStack, onHeap := newClient(stackRT), newClient(heapRT)

	stop := make(chan struct{})
	var churn sync.WaitGroup
	for range 2 {
		churn.Add(1)
		go func() {
			defer churn.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var wg sync.WaitGroup
				for j := range 8 {
					wg.Add(1)
					go func() { defer wg.Done(); recurse(200+j*50, [64]byte{1}) }()
				}
				wg.Wait()
				runtime.GC()
			}
		}()
	}

	const rounds = 300
	var heapMsgs []Message
	var wg sync.WaitGroup
	errs := make(chan error, rounds)
	for i := range rounds {
		wg.Add(1)
		go func() { // a fresh goroutine: a small stack that must grow
			defer wg.Done()
			s := strconv.Itoa(i)
			deep := deepMarshaler{n: 500 + i%7*300}
			var err error
			switch i % 4 {
			case 0:
				err = onStack.Enqueue(Track{
					UserID: "user-" + s, Event: "Event " + s,
					Properties: Properties{"deep": deep, "n": i},
					Context: &Context{IP: "10.0.0." + s, Page: &PageInfo{Title: "t" + s, Keywords: []string{"k" + s}},
						Device: &DeviceInfo{Model: "m" + s}, Traits: Traits{"a": s}},
				})
			case 1:
				err = onStack.Enqueue(OrderCompleted{
					UserID: "user-" + s, OrderID: "o" + s, Total: Float64(float64(i) + 0.5), Currency: "EUR",
					Products: []Product{{ProductID: "p" + s, Price: Float64(float64(i)), Quantity: Int(i)}, {Name: "n" + s}},
					Extra:    Properties{"deep": deep},
					Context:  &Context{Locale: "de-" + s, App: &AppInfo{Name: "a" + s}},
				})
			case 2:
				err = onStack.Enqueue(CreateOrUpdateDevice{
					UserID: "user-" + s, Device: Device{Token: "tok-" + s, Type: DeviceTypeIOS},
					Extra: Properties{"deep": deep},
					Context: &Context{IP: "10.1.0." + s, Device: &DeviceInfo{Model: "m" + s, Manufacturer: "x" + s},
						Campaign: &CampaignInfo{Name: "c" + s}, Location: &LocationInfo{City: "c" + s, Latitude: Float64(1.5)}},
				})
			case 3:
				err = onStack.Enqueue(Identify{
					UserID: "user-" + s, Traits: Traits{"deep": deep, "name": "n" + s},
					Context: &Context{Referrer: &ReferrerInfo{URL: "u" + s}, Network: &NetworkInfo{Carrier: "c" + s}},
				})
			}
			if err != nil {
				errs <- err
			}
		}()
		wg.Wait() // one at a time, so that the message ids match
		s := strconv.Itoa(i)
		deep := deepMarshaler{n: 500 + i%7*300}
		var m Message
		switch i % 4 {
		case 0:
			m = &Track{UserID: "user-" + s, Event: "Event " + s, Properties: Properties{"deep": deep, "n": i},
				Context: &Context{IP: "10.0.0." + s, Page: &PageInfo{Title: "t" + s, Keywords: []string{"k" + s}},
					Device: &DeviceInfo{Model: "m" + s}, Traits: Traits{"a": s}}}
		case 1:
			m = &OrderCompleted{UserID: "user-" + s, OrderID: "o" + s, Total: Float64(float64(i) + 0.5), Currency: "EUR",
				Products: []Product{{ProductID: "p" + s, Price: Float64(float64(i)), Quantity: Int(i)}, {Name: "n" + s}},
				Extra:    Properties{"deep": deep}, Context: &Context{Locale: "de-" + s, App: &AppInfo{Name: "a" + s}}}
		case 2:
			m = &CreateOrUpdateDevice{UserID: "user-" + s, Device: Device{Token: "tok-" + s, Type: DeviceTypeIOS},
				Extra: Properties{"deep": deep},
				Context: &Context{IP: "10.1.0." + s, Device: &DeviceInfo{Model: "m" + s, Manufacturer: "x" + s},
					Campaign: &CampaignInfo{Name: "c" + s}, Location: &LocationInfo{City: "c" + s, Latitude: Float64(1.5)}}}
		case 3:
			m = &Identify{UserID: "user-" + s, Traits: Traits{"deep": deep, "name": "n" + s},
				Context: &Context{Referrer: &ReferrerInfo{URL: "u" + s}, Network: &NetworkInfo{Carrier: "c" + s}}}
		}
		heapMsgs = append(heapMsgs, m) // kept: on the heap for sure
		if err := onHeap.Enqueue(m); err != nil {
			t.Fatal(err)
		}
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	close(stop)
	churn.Wait()
	for _, c := range []*Client{onStack, onHeap} {
		if err := c.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		_ = c.Close()
	}
	if len(stackRT.msgs) != rounds || len(heapRT.msgs) != rounds {
		t.Fatalf("sent %d and %d messages, want %d", len(stackRT.msgs), len(heapRT.msgs), rounds)
	}
	byID := func(msgs []json.RawMessage) map[string]string {
		out := map[string]string{}
		for _, m := range msgs {
			var h struct{ MessageID string }
			_ = json.Unmarshal(m, &h)
			out[h.MessageID] = string(m)
		}
		return out
	}
	got, want := byID(stackRT.msgs), byID(heapRT.msgs)
	for i := range rounds {
		// The stack client numbered its ids 1, 3, 5... and the heap
		// client 2, 4, 6...: both draw from one counter, in turn.
		sid, hid := "id-"+strconv.Itoa(2*i+1), "id-"+strconv.Itoa(2*i+2)
		g := strings.Replace(got[sid], `"messageId":"`+sid+`"`, `"messageId":"`+hid+`"`, 1)
		if g != want[hid] {
			t.Fatalf("message %d:\n got %s\nwant %s", i, got[sid], want[hid])
		}
		ev, _ := results.Load(sid)
		wantEv, _ := results.Load(hid)
		if ev != wantEv {
			t.Fatalf("message %d: Result.Event %q, want %q", i, ev, wantEv)
		}
	}
	runtime.KeepAlive(heapMsgs)
}
