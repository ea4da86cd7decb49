//go:build !unix

package spool

import (
	"errors"
	"os"
)

// lockFile fails: without flock(2) the spool cannot make sure that one
// client owns its directory, so it is not offered.
func lockFile(*os.File) error {
	return errors.New("the spool needs flock(2), which this platform lacks")
}

func unlockFile(*os.File) {}
