package iocp

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// What golang.org/x/sys/windows lacks.
var (
	kernel32                        = windows.NewLazySystemDLL("kernel32.dll")
	procGetQueuedCompletionStatusEx = kernel32.NewProc("GetQueuedCompletionStatusEx")
	procCancelSynchronousIo         = kernel32.NewProc("CancelSynchronousIo")
	procReOpenFile                  = kernel32.NewProc("ReOpenFile")
)

// overlappedEntry is OVERLAPPED_ENTRY. The kernel writes Overlapped, a
// pointer to an op the driver keeps alive anyway.
type overlappedEntry struct {
	Key         uintptr
	Overlapped  *windows.Overlapped
	Internal    uintptr
	Transferred uint32
}

// getQueuedCompletionStatusEx dequeues up to len(entries) packets, waiting
// up to ms milliseconds for the first.
func getQueuedCompletionStatusEx(port windows.Handle, entries []overlappedEntry, ms uint32) (int, error) {
	var n uint32
	r, _, e := syscall.SyscallN(procGetQueuedCompletionStatusEx.Addr(),
		uintptr(port), uintptr(unsafe.Pointer(&entries[0])), uintptr(len(entries)),
		uintptr(unsafe.Pointer(&n)), uintptr(ms), 0)
	if r == 0 {
		return 0, e
	}
	return int(n), nil
}

// cancelSynchronousIo cancels the synchronous I/O call thread is blocked
// in; ERROR_NOT_FOUND when it is in none (yet, or any more).
func cancelSynchronousIo(thread windows.Handle) error {
	r, _, e := syscall.SyscallN(procCancelSynchronousIo.Addr(), uintptr(thread))
	if r == 0 {
		return e
	}
	return nil
}

// soType is SO_TYPE: getsockopt succeeds with it on sockets only.
const soType = 0x1008

// NtQueryInformationFile classes.
const (
	fileAccessInformation                   = 8
	fileModeInformation                     = 16
	fileIoCompletionNotificationInformation = 41
)

// isSynchronous reports whether h was opened without FILE_FLAG_OVERLAPPED.
func isSynchronous(h windows.Handle) (bool, error) {
	mode, err := fileMode(h)
	if err != nil {
		return false, err
	}
	return mode&(windows.FILE_SYNCHRONOUS_IO_ALERT|windows.FILE_SYNCHRONOUS_IO_NONALERT) != 0, nil
}

// fileMode returns the file object's mode (FILE_MODE_INFORMATION:
// FILE_SYNCHRONOUS_IO_NONALERT, FILE_WRITE_THROUGH, ...).
func fileMode(h windows.Handle) (uint32, error) {
	var mode uint32
	var iosb windows.IO_STATUS_BLOCK
	err := windows.NtQueryInformationFile(h, &iosb, (*byte)(unsafe.Pointer(&mode)), 4, fileModeInformation)
	return mode, err
}

// grantedAccess returns the access rights h was opened with
// (FILE_ACCESS_INFORMATION).
func grantedAccess(h windows.Handle) (uint32, error) {
	var access uint32
	var iosb windows.IO_STATUS_BLOCK
	err := windows.NtQueryInformationFile(h, &iosb, (*byte)(unsafe.Pointer(&access)), 4, fileAccessInformation)
	return access, err
}

// reOpenFile is ReOpenFile: a new handle, on a new file object, for the
// file h is open on.
func reOpenFile(h windows.Handle, access, share, flags uint32) (windows.Handle, error) {
	if err := procReOpenFile.Find(); err != nil {
		return 0, err
	}
	r, _, e := syscall.SyscallN(procReOpenFile.Addr(), uintptr(h), uintptr(access), uintptr(share), uintptr(flags))
	if windows.Handle(r) == windows.InvalidHandle {
		return 0, e
	}
	return windows.Handle(r), nil
}

// completionModes returns the file object's completion notification modes
// (FILE_SKIP_COMPLETION_PORT_ON_SUCCESS, ...).
func completionModes(h windows.Handle) (uint32, error) {
	var flags uint32 // FILE_IO_COMPLETION_NOTIFICATION_INFORMATION
	var iosb windows.IO_STATUS_BLOCK
	err := windows.NtQueryInformationFile(h, &iosb, (*byte)(unsafe.Pointer(&flags)), 4, fileIoCompletionNotificationInformation)
	return flags, err
}

// threadHandle returns a real handle (not the pseudo handle) for the
// calling thread, for CancelSynchronousIo from other threads.
func threadHandle() (windows.Handle, error) {
	p := windows.CurrentProcess()
	var h windows.Handle
	err := windows.DuplicateHandle(p, windows.CurrentThread(), p, &h, 0, false, windows.DUPLICATE_SAME_ACCESS)
	return h, err
}
