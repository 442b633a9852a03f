package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// directIOFlag is the open flag for I/O that bypasses the page cache.
const directIOFlag = syscall.O_DIRECT

// errDirectIO is nil where directIOFlag means something.
var errDirectIO error

// kernelVersion describes the running kernel, as uname -srm does.
func kernelVersion() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:])
}

// dirInfo tells what backs dir and how much room it has.
func dirInfo(dir string) (tmpfs bool, free int64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false, 0, err
	}
	// (Type is an int32 on 32-bit systems, where RAMFS_MAGIC overflows it:
	// compare the magic's 32 bits.)
	typ := uint32(st.Type)
	return typ == unix.TMPFS_MAGIC || typ == unix.RAMFS_MAGIC, int64(st.Bavail) * int64(st.Bsize), nil
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// threadSnapshot maps each OS thread of the process to a number that
// grows whenever the thread runs: its context switches plus its CPU
// ticks. Comparing two snapshots tells which threads did anything in
// between. nil means the platform cannot tell.
func threadSnapshot() map[int]uint64 {
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil
	}
	snap := make(map[int]uint64, len(entries))
	for _, e := range entries {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		snap[tid] = threadActivity(e.Name())
	}
	return snap
}

// threadActivity reads the context switch and CPU tick counters of one
// thread; 0 if it is gone.
func threadActivity(tid string) uint64 {
	var total uint64
	if b, err := os.ReadFile("/proc/self/task/" + tid + "/status"); err == nil {
		for _, line := range bytes.Split(b, []byte("\n")) {
			if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.HasSuffix(k, []byte("ctxt_switches")) {
				n, _ := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
				total += n
			}
		}
	}
	if b, err := os.ReadFile("/proc/self/task/" + tid + "/stat"); err == nil {
		// The command name may hold spaces; fields restart after ')'.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 {
			f := strings.Fields(string(b[i+1:]))
			if len(f) > 12 { // utime and stime are fields 14 and 15 of stat
				u, _ := strconv.ParseUint(f[11], 10, 64)
				s, _ := strconv.ParseUint(f[12], 10, 64)
				total += u + s
			}
		}
	}
	return total
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// systemCPU returns the CPU time all processes of the machine have used
// so far (user, nice and system) and the time stolen by the hypervisor,
// from /proc/stat. Comparing it with the process's own CPU time tells
// whether something else was running during a measurement.
func systemCPU() (busy, steal time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, false
	}
	tick := func(i int) time.Duration {
		n, _ := strconv.ParseUint(f[i], 10, 64)
		return time.Duration(n) * (time.Second / userHZ)
	}
	return tick(1) + tick(2) + tick(3), tick(8), true
}

// userHZ is the unit of /proc/stat: 100 on every Linux architecture Go
// supports.
const userHZ = 100

// errEvict is nil where evictFile works.
var errEvict error

// evictFile drops name's pages from the page cache: fsync, so that none
// is dirty, then posix_fadvise(POSIX_FADV_DONTNEED) on the whole file.
// Clean pages that nobody maps are dropped at once.
func evictFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("evict %s: fsync: %w", name, err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("evict %s: posix_fadvise(DONTNEED): %w", name, err)
	}
	return nil
}
