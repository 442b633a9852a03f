//go:build unix

package portable

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio/internal/core"
)

// attempt runs r's transfer (or accept, or shutdown) once on fd. On the
// netpoller path fd is non-blocking. Offsets mean nothing to streams and
// are ignored, as io_uring ignores them.
func attempt(fd int, r *core.Record) (int, error) {
	switch r.Kind {
	case core.KindRead:
		return unix.Read(fd, r.Buf)
	case core.KindWrite:
		return unix.Write(fd, r.Buf)
	case core.KindRecv:
		n, _, err := unix.Recvfrom(fd, r.Buf, r.Flags)
		return n, err
	case core.KindSend:
		return unix.SendmsgN(fd, r.Buf, nil, nil, r.Flags)
	case core.KindRecvmsg:
		// The source goes straight into r.Addr, raw, as io_uring's
		// recvmsg writes it. The kernel writes it only with a datagram:
		// an attempt that would block leaves Addr (and Buf) untouched.
		n, addrLen, err := recvfrom(fd, r.Buf, r.Addr, r.Flags)
		if err == nil {
			r.AddrLen = addrLen // ours until Complete, which publishes it
		}
		return n, err
	case core.KindSendmsg:
		return sendto(fd, r.Buf, r.Addr, r.Flags)
	case core.KindAccept:
		return accept(fd, r.Flags)
	case core.KindShutdown:
		return 0, unix.Shutdown(fd, r.Flags)
	}
	panic("aio: inconsistent op kind " + r.Kind.String())
}

// connectStart starts a connect to the raw sockaddr on the non-blocking
// fd; again means it is in progress (wait until writable, then
// connectCheck), as in Go's net package.
func connectStart(fd int, raw []byte) (res int32, again bool) {
	sa, err := parseSockaddr(raw)
	if err != nil {
		return errnoRes(err), false
	}
	switch err := unix.Connect(fd, sa); err {
	case nil, unix.EISCONN:
		return 0, false
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		return 0, true
	default:
		return errnoRes(err), false
	}
}

// ConnectStart starts a connect to the raw sockaddr on the non-blocking
// fd, for the aio package's readiness path: 0 (connected), EINPROGRESS
// (wait until writable), or the error.
func ConnectStart(fd int, raw []byte) syscall.Errno {
	res, again := connectStart(fd, raw)
	switch {
	case again:
		return unix.EINPROGRESS
	case res < 0:
		return syscall.Errno(-res)
	}
	return 0
}

// connectCheck tells whether a connect in progress has finished: SO_ERROR
// has its outcome, and a socket with a peer is connected. The netpoller
// may wake us before either, hence again.
func connectCheck(fd int) (res int32, again bool) {
	soErr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return errnoRes(err), false
	}
	switch errno := syscall.Errno(soErr); errno {
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		return 0, true
	case unix.EISCONN:
		return 0, false
	case 0:
		if _, err := unix.Getpeername(fd); err == nil {
			return 0, false
		}
		return 0, true
	default:
		return -int32(errno), false
	}
}

// parseSockaddr decodes the raw sockaddr of a KindConnect record (the
// layout of <sys/socket.h> on this system) for unix.Connect. It reads only
// within b: the family, then the family's own structure.
func parseSockaddr(b []byte) (unix.Sockaddr, error) {
	var hdr unix.RawSockaddr
	famOff, famSize := unsafe.Offsetof(hdr.Family), unsafe.Sizeof(hdr.Family)
	if uintptr(len(b)) < famOff+famSize {
		return nil, unix.EINVAL
	}
	family := int(b[famOff]) // one byte on the BSDs, after the length byte
	if famSize == 2 {
		family = int(*(*uint16)(unsafe.Pointer(&b[famOff]))) // native order
	}
	switch family {
	case unix.AF_INET:
		var raw unix.RawSockaddrInet4
		if uintptr(len(b)) < unsafe.Sizeof(raw) {
			return nil, unix.EINVAL
		}
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&raw)), unsafe.Sizeof(raw)), b)
		return &unix.SockaddrInet4{Port: netPort(&raw.Port), Addr: raw.Addr}, nil
	case unix.AF_INET6:
		var raw unix.RawSockaddrInet6
		if uintptr(len(b)) < unsafe.Sizeof(raw) {
			return nil, unix.EINVAL
		}
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&raw)), unsafe.Sizeof(raw)), b)
		return &unix.SockaddrInet6{Port: netPort(&raw.Port), ZoneId: raw.Scope_id, Addr: raw.Addr}, nil
	case unix.AF_UNIX:
		var raw unix.RawSockaddrUnix
		path := b[unsafe.Offsetof(raw.Path):]
		if len(path) > len(raw.Path) {
			return nil, unix.EINVAL
		}
		if len(path) > 0 && path[0] == 0 { // abstract (Linux): x/sys spells it @name
			return &unix.SockaddrUnix{Name: "@" + string(path[1:])}, nil
		}
		for i, c := range path {
			if c == 0 {
				path = path[:i]
				break
			}
		}
		return &unix.SockaddrUnix{Name: string(path)}, nil
	}
	return nil, unix.EAFNOSUPPORT
}

// netPort reads a port stored in network byte order.
func netPort(p *uint16) int {
	b := (*[2]byte)(unsafe.Pointer(p))
	return int(b[0])<<8 | int(b[1])
}

// Attempt makes kind's system call once on fd, which is non-blocking,
// for a caller that waits in Go's netpoller itself (the aio package's
// readiness path): a read, write, recv, send, recvmsg (the source's raw
// sockaddr into addr, its length returned), sendmsg (to the raw sockaddr
// addr, empty: the connected peer) or accept (a new socket with flags).
// EAGAIN means it would wait. It allocates nothing for the transfers.
func Attempt(kind core.Kind, fd int, buf []byte, flags int, addr []byte) (n, addrLen int, errno syscall.Errno) {
	var err error
	switch kind {
	case core.KindRead, core.KindWrite, core.KindRecv, core.KindSend:
		if len(buf) > 0 {
			return transferNowN(kind, fd, buf, flags)
		}
		if kind == core.KindSend { // an empty datagram
			n, err = sendto(fd, nil, nil, flags)
		} else {
			n, _, err = recvfrom(fd, nil, nil, flags)
		}
	case core.KindRecvmsg:
		n, addrLen, err = recvfrom(fd, buf, addr, flags)
	case core.KindSendmsg:
		n, err = sendto(fd, buf, addr, flags)
	case core.KindAccept:
		n, err = accept(fd, flags)
	default:
		panic("aio: inconsistent op kind " + kind.String())
	}
	if err != nil {
		if e, ok := err.(syscall.Errno); ok {
			return 0, 0, e
		}
		return 0, 0, unix.EIO
	}
	return n, addrLen, 0
}

// transferNowN is TransferNow with Attempt's results.
func transferNowN(kind core.Kind, fd int, buf []byte, flags int) (int, int, syscall.Errno) {
	n, errno := TransferNow(kind, fd, buf, flags)
	if errno != 0 {
		return 0, 0, errno
	}
	return int(n), 0, 0
}
