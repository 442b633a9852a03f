package iocp

import (
	"math"
	"syscall"

	"golang.org/x/sys/windows"

	"github.com/waitforit/aio/internal/core"
)

// result turns the outcome of an operation of kind k (n bytes moved, err
// nil or a Windows error) into core.Record.Res (see the package doc).
func result(k core.Kind, n uint32, err error) int32 {
	if n > math.MaxInt32 { // a single operation moves at most 1 GiB
		panic("aio: inconsistent iocp result: transfer larger than the buffer")
	}
	if err == nil {
		return int32(n)
	}
	errno, ok := err.(syscall.Errno)
	if !ok {
		errno = syscall.EINVAL
	}
	reading := k == core.KindRead || k == core.KindRecv || k == core.KindRecvmsg
	if k == core.KindAccept {
		switch errno {
		case windows.ERROR_NETNAME_DELETED, windows.WSAECONNRESET,
			windows.ERROR_CONNECTION_ABORTED, windows.WSAECONNABORTED, windows.ERROR_UNEXP_NET_ERR:
			// The connection died before AcceptEx took it (Wine says so
			// with ERROR_UNEXP_NET_ERR: its getpeername on the new
			// socket failed with ENOTCONN): accept(2)'s ECONNABORTED,
			// which the listener answers with the next accept.
			return -int32(syscall.ECONNABORTED)
		}
	}
	switch errno {
	case windows.ERROR_OPERATION_ABORTED, windows.ERROR_ALERTED: // ALERTED: Wine's abandoned I/O (see completePacket)
		if n > 0 { // bytes moved before the cancel took: they count
			return int32(n)
		}
		return -int32(syscall.ECANCELED)
	case windows.ERROR_MORE_DATA, windows.WSAEMSGSIZE: // a message or datagram longer than the buffer
		if reading {
			return int32(n)
		}
	case windows.ERROR_NETNAME_DELETED: // what a socket's reset looks like through GetOverlappedResult
		errno = windows.WSAECONNRESET
	case windows.ERROR_CONNECTION_ABORTED:
		errno = windows.WSAECONNABORTED
	case windows.ERROR_CONNECTION_REFUSED, windows.ERROR_PORT_UNREACHABLE:
		errno = windows.WSAECONNREFUSED
	case windows.ERROR_HANDLE_EOF, windows.ERROR_PIPE_NOT_CONNECTED:
		if reading {
			return int32(n)
		}
	case windows.ERROR_BROKEN_PIPE:
		if reading {
			return int32(n)
		}
		errno = syscall.EPIPE
	case windows.ERROR_NO_DATA:
		if !reading {
			errno = syscall.EPIPE
		}
	case windows.ERROR_FILE_NOT_FOUND, windows.ERROR_PATH_NOT_FOUND:
		errno = syscall.ENOENT
	case windows.ERROR_ACCESS_DENIED:
		if k == core.KindRead || k == core.KindWrite || k == core.KindFsync {
			errno = syscall.EBADF // the handle lacks the access, as with a Unix fd
		}
	case windows.ERROR_INVALID_HANDLE:
		errno = syscall.EBADF
	}
	if errno == 0 || uint64(errno) > math.MaxInt32 {
		errno = syscall.EINVAL
	}
	return -int32(errno)
}
