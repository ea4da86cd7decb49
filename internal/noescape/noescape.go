// Package noescape hides a pointer from the compiler's escape analysis.
//
// Enqueue uses it so that a message passed by value, and everything its
// fields point to, may stay on the caller's stack instead of being copied
// to the heap because an interface method is called on it. See
// hideMessage in the analytics package for why that is safe there; it is
// not safe in general.
package noescape

// Enabled reports whether Pointer hides pointers on this architecture.
// Elsewhere it is the identity, escape analysis sees through it, and
// messages are allocated on the heap as usual: correct, only slower.
const Enabled = enabled
