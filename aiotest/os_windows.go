package aiotest

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

// handleSlack: GetProcessHandleCount also counts the handles of threads
// the Go runtime starts while a case runs, which it keeps.
const handleSlack = 8

var procGetProcessHandleCount = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetProcessHandleCount")

// openHandles counts the process's open handles (sockets, files, pipes,
// events, threads).
func openHandles() (int, bool) {
	var n uint32
	if procGetProcessHandleCount.Find() != nil {
		return 0, false
	}
	r, _, _ := procGetProcessHandleCount.Call(uintptr(windows.CurrentProcess()), uintptr(unsafe.Pointer(&n)))
	if r == 0 {
		return 0, false
	}
	return int(n), true
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
