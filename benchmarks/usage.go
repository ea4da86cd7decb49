package benchmarks

import (
	"os"
	"runtime/pprof"
	"syscall"
	"time"
)

// Usage is what the operating system counted for a process: CPU (user and
// system), minor page faults (a page of memory touched for the first
// time) and peak resident memory.
type Usage struct {
	CPU      time.Duration
	MinFlt   int64
	MaxRSSKB int64
}

// SelfUsage returns what the calling process has used so far
// (getrusage(RUSAGE_SELF)).
func SelfUsage() Usage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return RusageUsage(&ru)
}

// RusageUsage converts a rusage, such as the one wait4 gives for a
// finished child (os.ProcessState.SysUsage).
func RusageUsage(ru *syscall.Rusage) Usage {
	return Usage{
		CPU:      time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		MinFlt:   ru.Minflt,
		MaxRSSKB: ru.Maxrss,
	}
}

// StartCPUProfile writes the process's CPU profile to path until the
// returned stop is called.
func StartCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
