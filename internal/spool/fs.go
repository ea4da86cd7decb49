package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// FS is the file system a Log keeps its files in: the operating system's
// (OS) unless Options.FS names another. It is the seam where tests inject
// faults (a full disk, I/O errors, short writes) and crashes that drop what
// was not fsynced; see the faultfs package.
type FS interface {
	// MkdirAll creates dir and its parents, as os.MkdirAll.
	MkdirAll(dir string, perm os.FileMode) error
	// OpenFile opens a file, as os.OpenFile.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// ReadDir returns the names of the entries of dir, sorted.
	ReadDir(dir string) ([]string, error)
	// Remove removes a file.
	Remove(name string) error
	// Rename renames a file.
	Rename(oldpath, newpath string) error
	// SyncDir fsyncs directory dir, so that the names created, renamed and
	// removed in it survive a power loss.
	SyncDir(dir string) error
	// Lock takes the exclusive lock whose file is name, creating the file
	// if need be, without waiting; if another holder has it, it fails with
	// an error matching ErrLocked. The lock ends with the process, or when
	// the returned io.Closer is closed.
	Lock(name string) (io.Closer, error)
}

// File is an open file of an FS.
type File interface {
	io.ReaderAt
	io.WriterAt
	// Truncate changes the size of the file.
	Truncate(size int64) error
	// Sync fsyncs the file.
	Sync() error
	// Size returns the size of the file.
	Size() (int64, error)
	// Close closes the file.
	Close() error
}

// OS is the operating system's file system.
var OS FS = osFS{}

type osFS struct{}

func (osFS) MkdirAll(dir string, perm os.FileMode) error { return os.MkdirAll(dir, perm) }

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) ReadDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	slices.Sort(names)
	return names, nil
}

func (osFS) Remove(name string) error             { return os.Remove(name) }
func (osFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (osFS) Lock(name string) (io.Closer, error) {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%v)", ErrLocked, err)
		}
		return nil, err
	}
	return lockHolder{f}, nil
}

type lockHolder struct{ f *os.File }

func (h lockHolder) Close() error {
	unlockFile(h.f)
	return h.f.Close()
}

type osFile struct{ *os.File }

func (f osFile) Size() (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// readFile reads the whole of a file of fsys.
func readFile(fsys FS, name string) ([]byte, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	data := make([]byte, size)
	n, err := f.ReadAt(data, 0)
	if err == io.EOF {
		err = nil // the file shrank since Size: what was read is it
	}
	return data[:n], err
}

// join is filepath.Join, for the names of a spool's files.
func join(dir, name string) string { return filepath.Join(dir, name) }
