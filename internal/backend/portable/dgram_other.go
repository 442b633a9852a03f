//go:build unix && !linux && !darwin && !freebsd && !netbsd && !dragonfly

package portable

import "golang.org/x/sys/unix"

// dgramSupported: not here. OpenBSD has no syscall(2) any more, and x/sys
// reaches Solaris, illumos and AIX only through libc wrappers that decode
// the source address; Supported reports KindSendmsg and KindRecvmsg as
// missing and Submit refuses them (errors.ErrUnsupported).
const dgramSupported = false

func recvfrom(fd int, p, from []byte, flags int) (n, fromLen int, err error) {
	return 0, 0, unix.ENOSYS
}

func sendto(fd int, p, to []byte, flags int) (int, error) { return 0, unix.ENOSYS }
