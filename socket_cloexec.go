//go:build linux || freebsd || netbsd || openbsd || dragonfly

package aio

import "golang.org/x/sys/unix"

// sockCloexec is accept4's flag for a close-on-exec socket.
const sockCloexec = unix.SOCK_CLOEXEC

func sysSocket(family, typ, proto int) (int, error) {
	return unix.Socket(family, typ|unix.SOCK_CLOEXEC, proto)
}

// sockNonblock is accept4's flag for a non-blocking socket.
const sockNonblock = unix.SOCK_NONBLOCK
