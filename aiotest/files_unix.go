//go:build unix

package aiotest

import (
	"context"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// mkfifo makes a named pipe; an error leaves the tree without one.
func mkfifo(name string) error { return unix.Mkfifo(name, 0o644) }

// osFile is an *os.File with the File methods os lacks, made of the same
// system calls the aio backends make, with aio's Op names.
type osFile struct{ *os.File }

func (f osFile) SyncData() error {
	return f.control("syncdata", func(fd int) error { return fdatasync(fd) })
}

func (f osFile) Allocate(ctx context.Context, mode uint32, off, length int64) error {
	if off < 0 || length <= 0 {
		return &fs.PathError{Op: "allocate", Path: f.Name(), Err: unix.EINVAL}
	}
	return f.control("allocate", func(fd int) error { return fallocate(fd, mode, off, length) })
}

// control runs fn on the descriptor, as os.File's methods do: a closed
// file is os.ErrClosed.
func (f osFile) control(op string, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return &fs.PathError{Op: op, Path: f.Name(), Err: os.ErrClosed}
	}
	var callErr error
	if err := rc.Control(func(fd uintptr) {
		for {
			callErr = fn(int(fd))
			if callErr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return &fs.PathError{Op: op, Path: f.Name(), Err: os.ErrClosed}
	}
	if callErr != nil {
		return &fs.PathError{Op: op, Path: f.Name(), Err: callErr}
	}
	return nil
}
