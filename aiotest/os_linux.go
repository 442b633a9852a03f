package aiotest

import (
	"fmt"
	"os"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// handleSlack: /proc/self/fd counts descriptors exactly.
const handleSlack = 0

// openHandles counts the process's open descriptors.
func openHandles() (int, bool) {
	d, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, false
	}
	return len(d), true
}

// thread names an OS thread, to wait for its exit.
type thread struct{ tid int }

// currentThread is the calling goroutine's thread (it must be locked to it).
func currentThread() thread { return thread{unix.Gettid()} }

// isMain reports whether t is the process's main thread, which the Go
// runtime never lets exit (a goroutine locked to it that returns wedges it
// instead).
func (t thread) isMain() bool { return t.tid == unix.Getpid() }

// waitGone polls (bounded) until the thread has exited: its entry in
// /proc/self/task is gone. ok is false if it did not go.
func (t thread) waitGone() (ok bool, err error) {
	name := fmt.Sprintf("/proc/self/task/%d", t.tid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := os.Stat(name)
		if os.IsNotExist(err) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if time.Now().After(deadline) {
			return false, fmt.Errorf("thread %d still there after 10s", t.tid)
		}
		time.Sleep(100 * time.Microsecond) // polling a condition, bounded
	}
}

// evict drops the file's pages from the page cache (they are written back
// first), so that the next read waits for the disk. It reports how many of
// the file's pages were still cached afterwards (0 where eviction works;
// on tmpfs, say, it does not).
func evict(name string) (resident int, err error) {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return 0, os.NewSyscallError("fadvise", err)
	}
	size := int(fi.Size())
	if size == 0 {
		return 0, nil
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, os.NewSyscallError("mmap", err)
	}
	defer unix.Munmap(mem)
	page := os.Getpagesize()
	vec := make([]byte, (size+page-1)/page)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&mem[0])), uintptr(size), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		return 0, os.NewSyscallError("mincore", errno)
	}
	for _, v := range vec {
		resident += int(v & 1)
	}
	return resident, nil
}

// mapNoReserve: reserve address space without committing memory.
const mapNoReserve = unix.MAP_NORESERVE

// holdsTCPPort reports whether this process holds a TCP socket whose
// local port is port (ok false where it cannot tell): a connection the
// library accepted and kept, rather than one another process took.
func holdsTCPPort(port int) (held, ok bool) {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return false, false
	}
	mine := map[string]bool{}
	for _, e := range fds {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	want := fmt.Sprintf(":%04X", port)
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 9 && strings.HasSuffix(f[1], want) && mine[f[9]] {
				return true, true
			}
		}
	}
	return false, true
}

// tcpTables are the kernel's tables of TCP sockets.
var tcpTables = []string{"/proc/net/tcp", "/proc/net/tcp6"}
