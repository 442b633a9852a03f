package iocp

import (
	"math"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/waitforit/aio/internal/core"
)

// acceptAddrLen is the room AcceptEx needs for each address: the largest
// sockaddr (sockaddr_in6) plus 16.
const acceptAddrLen = 28 + 16

// isWarning reports whether err is a warning (an NTSTATUS of severity
// warning): the call did its work and its completion is reported as a
// success would be. A datagram or message longer than the buffer.
func isWarning(err error) bool {
	return err == windows.ERROR_MORE_DATA || err == windows.WSAEMSGSIZE
}

// prepare makes what a socket call needs before anything is submitted:
// an accept's new socket, ConnectEx's address. It runs before begin, while
// the op is not in flight; on error nothing was submitted.
func (d *Driver) prepare(o *op, f *file, req *request) error {
	switch req.kind {
	case core.KindAccept:
		family := f.family.Load()
		if family == 0 {
			sa, err := windows.Getsockname(f.h)
			if err != nil {
				return err
			}
			family = windows.AF_INET
			if _, ok := sa.(*windows.SockaddrInet6); ok {
				family = windows.AF_INET6
			}
			f.family.Store(family)
		}
		s, err := windows.WSASocket(family, windows.SOCK_STREAM, windows.IPPROTO_TCP, nil, 0,
			windows.WSA_FLAG_OVERLAPPED|windows.WSA_FLAG_NO_HANDLE_INHERIT)
		if err != nil {
			return err
		}
		o.accepted = s
	case core.KindConnect:
		if len(req.buf) < 2 {
			return syscall.EINVAL
		}
		if _, err := windows.Getsockname(f.h); err != nil {
			// ConnectEx wants a bound socket: bind it as connect would.
			if err := rawBind(f.h, wildcard(req.buf)); err != nil {
				return err
			}
		}
		return loadConnectEx(f.h)
	}
	return nil
}

var (
	ws2         = windows.NewLazySystemDLL("ws2_32.dll")
	procConnect = ws2.NewProc("connect")
	procBind    = ws2.NewProc("bind")
)

// rawConnect is connect(2) with a raw sockaddr.
func rawConnect(s windows.Handle, sa []byte) error {
	if len(sa) < 2 {
		return syscall.EINVAL
	}
	if r, _, e := syscall.SyscallN(procConnect.Addr(), uintptr(s), uintptr(unsafe.Pointer(&sa[0])), uintptr(len(sa))); r != 0 {
		return e
	}
	return nil
}

// rawBind is bind(2) with a raw sockaddr.
func rawBind(s windows.Handle, sa []byte) error {
	if r, _, e := syscall.SyscallN(procBind.Addr(), uintptr(s), uintptr(unsafe.Pointer(&sa[0])), uintptr(len(sa))); r != 0 {
		return e
	}
	return nil
}

// wildcard is the any-address, any-port sockaddr of sa's family.
func wildcard(sa []byte) []byte {
	w := make([]byte, 16) // sockaddr_in
	if uint16(sa[0])|uint16(sa[1])<<8 == windows.AF_INET6 {
		w = make([]byte, 28) // sockaddr_in6
	}
	w[0], w[1] = sa[0], sa[1]
	return w
}

// setupSocket fills in the memory a socket call hands the kernel. Called
// with o.mu held, before the call.
func (o *op) setupSocket(req *request) {
	o.wsabuf.Len = uint32(len(req.buf))
	o.wsabuf.Buf = nil
	if len(req.buf) > 0 {
		o.wsabuf.Buf = &req.buf[0]
	}
	o.wsaflags = uint32(req.flags)
	o.fromLen = int32(len(req.addr))
}

// issueSocket makes the call for a socket request on o.
func (d *Driver) issueSocket(o *op, req *request) (uint32, error) {
	var done uint32
	switch req.kind {
	case core.KindRecv:
		err := windows.WSARecv(req.h, &o.wsabuf, 1, &done, &o.wsaflags, &o.ov, nil)
		return done, err
	case core.KindSend:
		err := windows.WSASend(req.h, &o.wsabuf, 1, &done, uint32(req.flags), &o.ov, nil)
		return done, err
	case core.KindRecvmsg:
		var from *windows.RawSockaddrAny
		if len(req.addr) > 0 {
			from = (*windows.RawSockaddrAny)(unsafe.Pointer(&req.addr[0]))
		}
		err := windows.WSARecvFrom(req.h, &o.wsabuf, 1, &done, &o.wsaflags, from, &o.fromLen, &o.ov, nil)
		return done, err
	case core.KindSendmsg:
		if len(req.addr) == 0 { // connected
			err := windows.WSASend(req.h, &o.wsabuf, 1, &done, uint32(req.flags), &o.ov, nil)
			return done, err
		}
		to := (*windows.RawSockaddrAny)(unsafe.Pointer(&req.addr[0]))
		err := windows.WSASendTo(req.h, &o.wsabuf, 1, &done, uint32(req.flags), to, int32(len(req.addr)), &o.ov, nil)
		return done, err
	case core.KindSendFile:
		// TF_WRITE_BEHIND: done once the socket has taken the bytes, as a
		// send is. A cancel (CancelIoEx) ends it with the bytes sent so far.
		err := windows.TransmitFile(req.h, req.src, req.length, 0, &o.ov, nil, windows.TF_WRITE_BEHIND)
		if err == nil && req.noPacket {
			// Done at once, and no packet will tell the count: the
			// OVERLAPPED's status block holds it.
			done = uint32(o.ov.InternalHigh)
		}
		return done, err
	case core.KindAccept:
		err := windows.AcceptEx(req.h, o.accepted, &o.acceptBuf[0], 0, acceptAddrLen, acceptAddrLen, &done, &o.ov)
		return 0, err
	case core.KindConnect:
		// ConnectEx(s, name, namelen, sendbuf, sendlen, sent, overlapped)
		r, _, e := syscall.SyscallN(connectEx.addr, uintptr(req.h), uintptr(unsafe.Pointer(&req.buf[0])), uintptr(len(req.buf)),
			0, 0, 0, uintptr(unsafe.Pointer(&o.ov)))
		if r == 0 {
			return 0, e
		}
		return 0, nil
	}
	panic("aio: inconsistent op kind " + req.kind.String())
}

// finishSocket completes what the kernel left to do after an accept, a
// connect or a recvmsg, before the completion is reported: the accepted
// socket inherits the listener's properties (or is closed if the accept
// failed), the connected socket gets its context, the source length goes
// to the record. n is the accepted socket for an accept that worked.
func (d *Driver) finishSocket(o *op, r *core.Record, f *file, n uint32, err error) (uint32, error) {
	switch r.Kind {
	case core.KindAccept:
		s := o.accepted
		o.accepted = 0
		if err == nil {
			ls := f.h
			err = windows.Setsockopt(s, windows.SOL_SOCKET, windows.SO_UPDATE_ACCEPT_CONTEXT,
				(*byte)(unsafe.Pointer(&ls)), int32(unsafe.Sizeof(ls)))
		}
		if err == nil && uint64(s) > math.MaxInt32 { // Record.Res is an int32; handles are small
			err = windows.ERROR_TOO_MANY_OPEN_FILES
		}
		if err != nil {
			windows.Closesocket(s)
			return 0, err
		}
		return uint32(s), nil
	case core.KindConnect:
		if err == nil {
			err = windows.Setsockopt(f.h, windows.SOL_SOCKET, windows.SO_UPDATE_CONNECT_CONTEXT, nil, 0)
		}
	case core.KindRecvmsg:
		if err == nil || isWarning(err) {
			r.Handback()
			r.AddrLen = int(o.fromLen)
		}
	}
	return n, err
}

// connectEx is the ConnectEx extension function, loaded once.
var connectEx struct {
	once sync.Once
	addr uintptr
	err  error
}

func loadConnectEx(s windows.Handle) error {
	connectEx.once.Do(func() {
		var n uint32
		connectEx.err = windows.WSAIoctl(s, windows.SIO_GET_EXTENSION_FUNCTION_POINTER,
			(*byte)(unsafe.Pointer(&windows.WSAID_CONNECTEX)), uint32(unsafe.Sizeof(windows.WSAID_CONNECTEX)),
			(*byte)(unsafe.Pointer(&connectEx.addr)), uint32(unsafe.Sizeof(connectEx.addr)), &n, nil, 0)
		if connectEx.err == nil && connectEx.addr == 0 {
			connectEx.err = windows.WSAEOPNOTSUPP
		}
	})
	return connectEx.err
}
