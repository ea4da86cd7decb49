// Package faultfs is an in-memory file system for testing the spool as
// storage engines are tested: it fails any operation on demand (a full
// disk, an I/O error, a short write), and it crashes, keeping of each file
// only what an fsync made durable, and of the rest a random part, as a
// power loss may.
//
// Durability is modelled as Linux gives it at worst: the bytes of a file
// are durable once the file is fsynced; the names in a directory (files
// created, renamed, removed) once the directory is fsynced. After a crash
// a file holds its durable bytes and, if it grew since, a random prefix of
// what was written after them; a name changed since the directory's last
// fsync is either as it was then or as it is now, at random.
package faultfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/cdpkit/analytics-go/internal/spool"
)

// Op names the kind of an operation, for Fault.
type Op string

// The operations a Fault can fail.
const (
	OpOpen     Op = "open"
	OpRead     Op = "read"
	OpWrite    Op = "write"
	OpSync     Op = "sync"
	OpTruncate Op = "truncate"
	OpRemove   Op = "remove"
	OpRename   Op = "rename"
	OpSyncDir  Op = "syncdir"
	OpReadDir  Op = "readdir"
)

// Errors an FS returns.
var (
	// ErrNoSpace is the error of a write past Capacity.
	ErrNoSpace = fmt.Errorf("faultfs: %w", syscall.ENOSPC)
	// ErrIO is an I/O error, for a Fault to return.
	ErrIO = fmt.Errorf("faultfs: %w", syscall.EIO)
	// errCrashed is the error of every operation on a file opened before
	// the last Crash: its process is gone.
	errCrashed = fmt.Errorf("faultfs: the file system crashed since this file was opened: %w", syscall.EIO)
)

// node is a file's contents.
type node struct {
	data    []byte
	durable []byte // as of the last fsync
}

// FS is an in-memory spool.FS. Its methods are safe for concurrent use.
type FS struct {
	mu      sync.Mutex
	names   map[string]*node // the directory entries now
	synced  map[string]*node // the directory entries as of the last SyncDir
	dirs    map[string]bool
	locks   map[string]bool
	gen     int // bumped by Crash: files opened before fail
	rng     *rand.Rand
	used    int64
	limit   int64
	fault   func(op Op, path string) error
	counted map[Op]int
}

// New returns an empty FS, whose crashes and short writes draw from a
// random source seeded with seed.
func New(seed uint64) *FS {
	return &FS{names: map[string]*node{}, synced: map[string]*node{}, dirs: map[string]bool{},
		locks: map[string]bool{}, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), counted: map[Op]int{}}
}

var _ spool.FS = (*FS)(nil)

// SetCapacity makes writes that would take the files past n bytes fail
// with ErrNoSpace after writing what fits; 0 is no limit.
func (f *FS) SetCapacity(n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limit = n
}

// SetFault makes fault decide, before every operation, whether it fails,
// and with which error; nil removes it. A failed write writes a random
// part of its bytes first (a short write). fault is called with the FS's
// lock held: it must not call the FS.
func (f *FS) SetFault(fault func(op Op, path string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault = fault
}

// Used returns the bytes of the files whose names match glob (as
// filepath.Match; "*" for all) in dir.
func (f *FS) Used(dir, glob string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n int64
	for p, nd := range f.names {
		if ok, _ := filepath.Match(filepath.Join(dir, glob), p); ok {
			n += int64(len(nd.data))
		}
	}
	return n
}

// Total returns the bytes of all the files.
func (f *FS) Total() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.used
}

// Faults returns how many operations of each kind a Fault failed.
func (f *FS) Faults() map[Op]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[Op]int{}
	for k, v := range f.counted {
		out[k] = v
	}
	return out
}

// Mount returns a view of f for one process: once f is killed or
// crashed, every operation through the view fails with an I/O error, as
// the process is gone. Give each client its own.
func (f *FS) Mount() spool.FS {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &mount{f, f.gen}
}

// mount is a view of an FS for one process.
type mount struct {
	fs  *FS
	gen int
}

func (m *mount) alive(op Op, path string) error {
	m.fs.mu.Lock()
	defer m.fs.mu.Unlock()
	if m.gen != m.fs.gen {
		return pathErr(op, path, errCrashed)
	}
	return nil
}

func (m *mount) MkdirAll(dir string, perm os.FileMode) error {
	if err := m.alive("mkdir", dir); err != nil {
		return err
	}
	return m.fs.MkdirAll(dir, perm)
}

func (m *mount) OpenFile(name string, flag int, perm os.FileMode) (spool.File, error) {
	if err := m.alive(OpOpen, name); err != nil {
		return nil, err
	}
	return m.fs.openFile(name, flag, m.gen)
}

func (m *mount) ReadDir(dir string) ([]string, error) {
	if err := m.alive(OpReadDir, dir); err != nil {
		return nil, err
	}
	return m.fs.ReadDir(dir)
}

func (m *mount) Remove(name string) error {
	if err := m.alive(OpRemove, name); err != nil {
		return err
	}
	return m.fs.Remove(name)
}

func (m *mount) Rename(oldpath, newpath string) error {
	if err := m.alive(OpRename, oldpath); err != nil {
		return err
	}
	return m.fs.Rename(oldpath, newpath)
}

func (m *mount) SyncDir(dir string) error {
	if err := m.alive(OpSyncDir, dir); err != nil {
		return err
	}
	return m.fs.SyncDir(dir)
}

func (m *mount) Lock(name string) (io.Closer, error) {
	if err := m.alive("lock", name); err != nil {
		return nil, err
	}
	return m.fs.Lock(name)
}

// Kill is a crash of the process only (kill -9): every write it made
// stays, as the operating system holds it, and its locks are released.
// Files opened before fail with an I/O error from now on.
func (f *FS) Kill() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gen++
	clear(f.locks)
}

// Crash loses what was not durable, as a power loss would, and releases
// every lock. Files opened before fail with an I/O error from now on.
func (f *FS) Crash() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gen++
	clear(f.locks)
	after := map[string]*node{}
	for _, p := range unionKeys(f.names, f.synced) {
		now, then := f.names[p], f.synced[p]
		pick := then
		if now != then && f.rng.IntN(2) == 0 {
			pick = now
		}
		if pick == nil {
			continue
		}
		after[p] = pick
	}
	// Each node once, whatever names it survives under.
	seen := map[*node]*node{}
	for p, nd := range after {
		if c, ok := seen[nd]; ok {
			after[p] = c
			continue
		}
		c := &node{data: f.survivor(nd)}
		c.durable = slices.Clone(c.data)
		seen[nd] = c
		after[p] = c
	}
	f.names = after
	f.synced = maps(after)
	f.used = 0
	for _, nd := range f.names {
		f.used += int64(len(nd.data))
	}
}

// survivor returns what of nd's data a crash leaves.
func (f *FS) survivor(nd *node) []byte {
	if len(nd.data) >= len(nd.durable) && string(nd.data[:len(nd.durable)]) == string(nd.durable) {
		extra := len(nd.data) - len(nd.durable)
		return slices.Clone(nd.data[:len(nd.durable)+f.rng.IntN(extra+1)])
	}
	if f.rng.IntN(2) == 0 {
		return slices.Clone(nd.durable)
	}
	return slices.Clone(nd.data)
}

func unionKeys(a, b map[string]*node) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys) // a seed gives one outcome
	return keys
}

func maps(m map[string]*node) map[string]*node {
	out := make(map[string]*node, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// failLocked returns the Fault's verdict on op.
func (f *FS) failLocked(op Op, path string) error {
	if f.fault == nil {
		return nil
	}
	err := f.fault(op, path)
	if err != nil {
		f.counted[op]++
	}
	return err
}

func pathErr(op Op, path string, err error) error {
	return &fs.PathError{Op: string(op), Path: path, Err: err}
}

// MkdirAll implements spool.FS.
func (f *FS) MkdirAll(dir string, perm os.FileMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dirs[filepath.Clean(dir)] = true
	return nil
}

// OpenFile implements spool.FS: O_CREATE, O_EXCL and O_TRUNC are honoured.
func (f *FS) OpenFile(name string, flag int, perm os.FileMode) (spool.File, error) {
	f.mu.Lock()
	gen := f.gen
	f.mu.Unlock()
	return f.openFile(name, flag, gen)
}

func (f *FS) openFile(name string, flag int, gen int) (spool.File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if gen != f.gen {
		return nil, pathErr(OpOpen, name, errCrashed)
	}
	name = filepath.Clean(name)
	if err := f.failLocked(OpOpen, name); err != nil {
		return nil, pathErr(OpOpen, name, err)
	}
	nd, ok := f.names[name]
	switch {
	case ok && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, pathErr(OpOpen, name, fs.ErrExist)
	case !ok && flag&os.O_CREATE == 0:
		return nil, pathErr(OpOpen, name, fs.ErrNotExist)
	case !ok:
		if !f.dirs[filepath.Dir(name)] {
			return nil, pathErr(OpOpen, name, fs.ErrNotExist)
		}
		nd = &node{}
		f.names[name] = nd
	}
	if flag&os.O_TRUNC != 0 {
		f.used -= int64(len(nd.data))
		nd.data = nd.data[:0]
	}
	return &file{fs: f, nd: nd, name: name, gen: f.gen, write: flag&(os.O_WRONLY|os.O_RDWR) != 0}, nil
}

// ReadDir implements spool.FS.
func (f *FS) ReadDir(dir string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	dir = filepath.Clean(dir)
	if err := f.failLocked(OpReadDir, dir); err != nil {
		return nil, pathErr(OpReadDir, dir, err)
	}
	if !f.dirs[dir] {
		return nil, pathErr(OpReadDir, dir, fs.ErrNotExist)
	}
	var names []string
	for p := range f.names {
		if filepath.Dir(p) == dir {
			names = append(names, filepath.Base(p))
		}
	}
	slices.Sort(names)
	return names, nil
}

// Remove implements spool.FS.
func (f *FS) Remove(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	name = filepath.Clean(name)
	if err := f.failLocked(OpRemove, name); err != nil {
		return pathErr(OpRemove, name, err)
	}
	nd, ok := f.names[name]
	if !ok {
		return pathErr(OpRemove, name, fs.ErrNotExist)
	}
	f.used -= int64(len(nd.data))
	delete(f.names, name)
	return nil
}

// Rename implements spool.FS.
func (f *FS) Rename(oldpath, newpath string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	oldpath, newpath = filepath.Clean(oldpath), filepath.Clean(newpath)
	if err := f.failLocked(OpRename, oldpath); err != nil {
		return pathErr(OpRename, oldpath, err)
	}
	nd, ok := f.names[oldpath]
	if !ok {
		return pathErr(OpRename, oldpath, fs.ErrNotExist)
	}
	if old, ok := f.names[newpath]; ok {
		f.used -= int64(len(old.data))
	}
	f.names[newpath] = nd
	delete(f.names, oldpath)
	return nil
}

// SyncDir implements spool.FS: the names in dir become durable.
func (f *FS) SyncDir(dir string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	dir = filepath.Clean(dir)
	if err := f.failLocked(OpSyncDir, dir); err != nil {
		return pathErr(OpSyncDir, dir, err)
	}
	for p := range f.synced {
		if filepath.Dir(p) == dir {
			delete(f.synced, p)
		}
	}
	for p, nd := range f.names {
		if filepath.Dir(p) == dir {
			f.synced[p] = nd
		}
	}
	return nil
}

// Lock implements spool.FS.
func (f *FS) Lock(name string) (io.Closer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name = filepath.Clean(name)
	if f.locks[name] {
		return nil, fmt.Errorf("%w (faultfs: locked)", spool.ErrLocked)
	}
	if _, ok := f.names[name]; !ok {
		f.names[name] = &node{}
	}
	f.locks[name] = true
	return &lock{fs: f, name: name, gen: f.gen}, nil
}

type lock struct {
	fs   *FS
	name string
	gen  int
	once sync.Once
}

func (l *lock) Close() error {
	l.once.Do(func() {
		l.fs.mu.Lock()
		defer l.fs.mu.Unlock()
		if l.gen == l.fs.gen {
			delete(l.fs.locks, l.name)
		}
	})
	return nil
}

// file is an open file of an FS.
type file struct {
	fs     *FS
	nd     *node
	name   string
	gen    int
	write  bool
	closed bool
}

func (fl *file) check(op Op) error {
	if fl.closed {
		return pathErr(op, fl.name, os.ErrClosed)
	}
	if fl.gen != fl.fs.gen {
		return pathErr(op, fl.name, errCrashed)
	}
	if err := fl.fs.failLocked(op, fl.name); err != nil {
		return pathErr(op, fl.name, err)
	}
	return nil
}

func (fl *file) ReadAt(p []byte, off int64) (int, error) {
	fl.fs.mu.Lock()
	defer fl.fs.mu.Unlock()
	if err := fl.check(OpRead); err != nil {
		return 0, err
	}
	if off >= int64(len(fl.nd.data)) {
		return 0, io.EOF
	}
	n := copy(p, fl.nd.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (fl *file) WriteAt(p []byte, off int64) (int, error) {
	fl.fs.mu.Lock()
	defer fl.fs.mu.Unlock()
	f := fl.fs
	if fl.closed {
		return 0, pathErr(OpWrite, fl.name, os.ErrClosed)
	}
	if fl.gen != f.gen {
		return 0, pathErr(OpWrite, fl.name, errCrashed)
	}
	if !fl.write {
		return 0, pathErr(OpWrite, fl.name, syscall.EBADF)
	}
	n := len(p)
	var werr error
	if err := f.failLocked(OpWrite, fl.name); err != nil {
		n, werr = f.rng.IntN(len(p)+1), err
		if n == len(p) && n > 0 {
			n--
		}
	}
	if f.limit > 0 {
		grow := max(off+int64(n)-int64(len(fl.nd.data)), 0)
		if f.used+grow > f.limit {
			fit := max(f.limit-f.used, 0)
			n = int(max(min(int64(n), int64(len(fl.nd.data))-off+fit), 0))
			werr = ErrNoSpace
		}
	}
	if n > 0 {
		if end := off + int64(n); end > int64(len(fl.nd.data)) {
			f.used += end - int64(len(fl.nd.data))
			fl.nd.data = append(fl.nd.data, make([]byte, end-int64(len(fl.nd.data)))...)
		}
		copy(fl.nd.data[off:], p[:n])
	}
	if werr != nil {
		return n, pathErr(OpWrite, fl.name, werr)
	}
	return n, nil
}

func (fl *file) Truncate(size int64) error {
	fl.fs.mu.Lock()
	defer fl.fs.mu.Unlock()
	if err := fl.check(OpTruncate); err != nil {
		return err
	}
	if size > int64(len(fl.nd.data)) {
		return pathErr(OpTruncate, fl.name, errors.New("faultfs: growing a file by Truncate is not modelled"))
	}
	fl.fs.used -= int64(len(fl.nd.data)) - size
	fl.nd.data = fl.nd.data[:size]
	return nil
}

func (fl *file) Sync() error {
	fl.fs.mu.Lock()
	defer fl.fs.mu.Unlock()
	if err := fl.check(OpSync); err != nil {
		return err
	}
	fl.nd.durable = slices.Clone(fl.nd.data)
	return nil
}

func (fl *file) Size() (int64, error) {
	fl.fs.mu.Lock()
	defer fl.fs.mu.Unlock()
	if fl.closed {
		return 0, pathErr("stat", fl.name, os.ErrClosed)
	}
	if fl.gen != fl.fs.gen {
		return 0, pathErr("stat", fl.name, errCrashed)
	}
	return int64(len(fl.nd.data)), nil
}

func (fl *file) Close() error {
	fl.fs.mu.Lock()
	defer fl.fs.mu.Unlock()
	if fl.closed {
		return pathErr("close", fl.name, os.ErrClosed)
	}
	fl.closed = true
	return nil
}

// String describes the FS's files, for a test's failure message.
func (f *FS) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for _, p := range unionKeys(f.names, nil) {
		fmt.Fprintf(&b, "%s %d bytes (%d durable)\n", p, len(f.names[p].data), len(f.names[p].durable))
	}
	return b.String()
}
