package analytics

// Ptr returns a pointer to v, for the pointer fields of the typed helpers
// (*float64, *int, *bool): a nil field is not sent, so
// Price: analytics.Ptr(0.0) sends an explicit "price": 0, and
// FullScreen: analytics.Ptr(false) an explicit "full_screen": false. Like
// &v, it does not make v escape to the heap when the message it is stored
// in does not.
func Ptr[T any](v T) *T { return &v }

// Float64 returns a pointer to v.
//
// Deprecated: Use Ptr, which makes a pointer to a value of any type.
func Float64(v float64) *float64 { return Ptr(v) }

// Int returns a pointer to v.
//
// Deprecated: Use Ptr, which makes a pointer to a value of any type.
func Int(v int) *int { return Ptr(v) }

// Bool returns a pointer to v.
//
// Deprecated: Use Ptr, which makes a pointer to a value of any type.
func Bool(v bool) *bool { return Ptr(v) }
