package main

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"

	"golang.org/x/sys/windows"

	"github.com/waitforit/aio"
)

var pipeSeq atomic.Uint64

// pipe makes a pipe whose write end is an *os.File. Its read end is an
// *os.File when ring is nil, else an *aio.File of ring.
//
// On Windows the pipe is a named pipe, overlapped at both ends, not one
// of os.Pipe: those are synchronous, so an *os.File has no deadlines on
// them (the std side of the cancel workloads needs them) and a ring can
// drive them only with blocking calls on threads. Here the read end is
// the client end, opened by name: through the ring for aio (its handle
// on the ring's completion port), with CreateFile and os.NewFile for std
// (on the Go runtime's port, with deadlines). The write end is the server
// end, wrapped by os.NewFile.
func pipe(ring *aio.Ring) (osR *os.File, aioR *aio.File, w *os.File, err error) {
	name := fmt.Sprintf(`\\.\pipe\aiobench-%d-%d`, os.Getpid(), pipeSeq.Add(1))
	namep, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, nil, nil, err
	}
	h, err := windows.CreateNamedPipe(namep,
		windows.PIPE_ACCESS_DUPLEX|windows.FILE_FLAG_OVERLAPPED|windows.FILE_FLAG_FIRST_PIPE_INSTANCE,
		windows.PIPE_TYPE_BYTE|windows.PIPE_READMODE_BYTE|windows.PIPE_WAIT|windows.PIPE_REJECT_REMOTE_CLIENTS,
		1, 64<<10, 64<<10, 0, nil)
	if err != nil {
		return nil, nil, nil, os.NewSyscallError("CreateNamedPipe", err)
	}
	fail := func(err error) (*os.File, *aio.File, *os.File, error) {
		windows.CloseHandle(h)
		if osR != nil {
			osR.Close()
		}
		if aioR != nil {
			aioR.Close()
		}
		return nil, nil, nil, err
	}
	if ring != nil {
		if aioR, err = ring.Open(context.Background(), name, os.O_RDONLY, 0); err != nil {
			return fail(err)
		}
	} else {
		rh, err := windows.CreateFile(namep, windows.GENERIC_READ, 0, nil, windows.OPEN_EXISTING, windows.FILE_FLAG_OVERLAPPED, 0)
		if err != nil {
			return fail(os.NewSyscallError("CreateFile", err))
		}
		osR = os.NewFile(uintptr(rh), name)
	}
	// The client has opened the pipe: the server end is connected, which
	// ConnectNamedPipe confirms at once.
	var ov windows.Overlapped
	switch err := windows.ConnectNamedPipe(h, &ov); err {
	case nil, windows.ERROR_PIPE_CONNECTED:
	case windows.ERROR_IO_PENDING: // not connected after all: take ov back first
		windows.CancelIoEx(h, &ov)
		var n uint32
		windows.GetOverlappedResult(h, &ov, &n, true)
		return fail(os.NewSyscallError("ConnectNamedPipe", err))
	default:
		return fail(os.NewSyscallError("ConnectNamedPipe", err))
	}
	return osR, aioR, os.NewFile(uintptr(h), name), nil
}
