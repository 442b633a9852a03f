package aiotest

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

// handleSlack: openHandles counts exactly the handles of files, pipes,
// sockets and devices.
const handleSlack = 0

var procGetHandleInformation = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetHandleInformation")

// openHandles counts the process's open handles of files, pipes, sockets
// and character devices: the handle values GetHandleInformation accepts
// whose GetFileType is known. (GetProcessHandleCount also counts the
// threads and events the Go runtime keeps for every thread it starts, and
// under Wine reports none at all.)
func openHandles() (int, bool) {
	// Handle values are multiples of 4, handed out from the bottom.
	count, misses := 0, 0
	for h := windows.Handle(4); misses < 4096; h += 4 {
		var flags uint32
		if r, _, _ := procGetHandleInformation.Call(uintptr(h), uintptr(unsafe.Pointer(&flags))); r == 0 {
			misses++
			continue
		}
		misses = 0
		if typ, err := windows.GetFileType(h); err == nil && typ != windows.FILE_TYPE_UNKNOWN {
			count++
		}
	}
	return count, count > 0
}

// thread names an OS thread, to wait for its exit: a handle opened while
// the thread ran, signalled when it exits.
type thread struct {
	id uint32
	h  windows.Handle
}

// mainThread is the thread package initialisation runs on: the runtime
// keeps the main goroutine on it while packages initialise.
var mainThread = windows.GetCurrentThreadId()

// currentThread is the calling goroutine's thread (it must be locked to it).
func currentThread() thread {
	id := windows.GetCurrentThreadId()
	h, err := windows.OpenThread(windows.SYNCHRONIZE, false, id)
	if err != nil {
		h = 0
	}
	return thread{id, h}
}

// isMain reports whether t is the process's main thread, which the Go
// runtime never lets exit.
func (t thread) isMain() bool { return t.id == mainThread }

// waitGone waits (bounded) until the thread has exited: its handle is
// signalled.
func (t thread) waitGone() (bool, error) {
	if t.h == 0 {
		return false, fmt.Errorf("no handle on thread %d", t.id)
	}
	defer windows.CloseHandle(t.h)
	ev, err := windows.WaitForSingleObject(t.h, 10_000)
	if err != nil {
		return false, err
	}
	if ev != windows.WAIT_OBJECT_0 {
		return false, fmt.Errorf("thread %d still running after 10s", t.id)
	}
	return true, nil
}

// evict is not possible here without reopening the file unbuffered: the
// read may be served from the cache.
func evict(name string) (int, error) { return -1, nil }

// holdsTCPPort: no way to tell here which process holds a connection.
func holdsTCPPort(port int) (held, ok bool) { return false, false }

// tcpTables are the kernel's tables of TCP sockets where there is one:
// under Wine, whose drive Z: is the host's root, the Linux kernel's, which
// holds every socket of every Wine process. Real Windows has none.
var tcpTables = []string{`Z:\proc\net\tcp`, `Z:\proc\net\tcp6`}
