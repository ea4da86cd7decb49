//go:build !amd64 && !arm64

package noescape

import "unsafe"

const enabled = false

// Pointer returns p; on this architecture escape analysis sees through it.
func Pointer(p unsafe.Pointer) unsafe.Pointer { return p }
