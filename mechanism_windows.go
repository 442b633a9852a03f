package aio

import (
	"golang.org/x/sys/windows"

	"github.com/waitforit/aio/internal/backend/iocp"
)

// prepareFD decides fd's mechanism (see mechanism.go) as the File that
// owns it is made. Every operation on Windows is the driver's; what it
// can do with a handle depends on the handle's file object (overlapped or
// not, on which completion port), which the caller's handle fixes for an
// adopted one. So an adopted disk file is reopened (iocp.Reopen: the same
// file, overlapped, a file object of aio's own), and its operations go
// through the ring's completion port; the duplicate is closed. A handle
// that cannot be reopened (a pipe, a console, a socket, a disk file
// opened without sharing) stays the duplicate, which the driver drives as
// its file object allows.
func (r *Ring) prepareFD(fd int, name string, origin fdOrigin, into *pollFD) (int, *pollFD, error) {
	if origin != adopted || r.driver.Name() != "iocp" {
		return fd, nil, nil
	}
	h, err := iocp.Reopen(windows.Handle(fd))
	if err != nil {
		return fd, nil, nil
	}
	closeFD(fd)
	return int(h), nil, nil
}

// systemLimits: see ProbeResult.Limits.
func systemLimits(backend string) []string { return nil }
