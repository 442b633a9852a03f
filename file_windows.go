package aio

import (
	"os"

	"golang.org/x/sys/windows"
)

// On Windows a File's descriptor is a HANDLE.
const oCloexec = 0

func closeFD(fd int) error { return windows.CloseHandle(windows.Handle(fd)) }

// dupFD duplicates a handle, not inheritable.
func dupFD(h uintptr) (int, error) {
	p := windows.CurrentProcess()
	var d windows.Handle
	err := windows.DuplicateHandle(p, windows.Handle(h), p, &d, 0, false, windows.DUPLICATE_SAME_ACCESS)
	return int(d), err
}

func syscallMode(m os.FileMode) uint32 { return uint32(m.Perm()) }
