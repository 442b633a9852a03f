package aio

import (
	"os"
	"unsafe"

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

// fdType reports whether the handle is a disk file, and whether it is a
// directory (its attributes say; a query of the file object's metadata,
// which never waits for a device), so that ReadDir of a file submits
// nothing.
func fdType(fd int) (regular bool, dir int32) {
	h := windows.Handle(fd)
	t, err := windows.GetFileType(h)
	if err != nil || t != windows.FILE_TYPE_DISK {
		return false, kindNotDir
	}
	var ti struct{ FileAttributes, ReparseTag uint32 } // FILE_ATTRIBUTE_TAG_INFO
	if windows.GetFileInformationByHandleEx(h, windows.FileAttributeTagInfo, (*byte)(unsafe.Pointer(&ti)), uint32(unsafe.Sizeof(ti))) != nil {
		return true, kindUnknown
	}
	if ti.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY != 0 {
		return false, kindDir
	}
	return true, kindNotDir
}

// callerWrite is never called on Windows: the IOCP backend has no direct
// path (core.DirectDoer), so no File tries a write at once.
func callerWrite(fd int, p []byte, off int64) int32 {
	panic("aio: no caller writes on Windows")
}

func callerSync(fd int, datasync bool) error {
	panic("aio: no caller syncs on Windows")
}
