package aio

import (
	"os"

	"golang.org/x/sys/windows"
)

// On Windows a File's descriptor is a HANDLE.
const oCloexec = 0

// closeFD closes a handle: closesocket for a socket (sockets report
// FILE_TYPE_PIPE, and closesocket refuses anything else with WSAENOTSOCK),
// CloseHandle for everything else.
func closeFD(fd int) error {
	h := windows.Handle(fd)
	if t, err := windows.GetFileType(h); err == nil && t == windows.FILE_TYPE_PIPE {
		if err := windows.Closesocket(h); err != windows.WSAENOTSOCK {
			return err
		}
	}
	return windows.CloseHandle(h)
}

// dupFD duplicates a handle, not inheritable.
func dupFD(h uintptr) (int, error) {
	p := windows.CurrentProcess()
	var d windows.Handle
	err := windows.DuplicateHandle(p, windows.Handle(h), p, &d, 0, false, windows.DUPLICATE_SAME_ACCESS)
	return int(d), err
}

func syscallMode(m os.FileMode) uint32 { return uint32(m.Perm()) }

// fdType reports whether the handle is a disk file; whether it is a
// directory is not known here (kindUnknown: ReadDir asks Stat).
func fdType(fd int) (regular bool, dir int32) {
	t, err := windows.GetFileType(windows.Handle(fd))
	return err == nil && t == windows.FILE_TYPE_DISK, kindUnknown
}

// callerWrite is never called on Windows: the IOCP backend has no direct
// path (core.DirectDoer), so no File tries a write at once.
func callerWrite(fd int, p []byte, off int64) int32 {
	panic("aio: no caller writes on Windows")
}
