package aiotest

import (
	"context"
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/windows"

	"github.com/waitforit/aio/internal/backend/iocp"
)

// No named pipes in a Windows directory tree.
func mkfifo(name string) error { return errors.ErrUnsupported }

// Linux's fallocate modes, which File.Allocate takes on Windows too.
const (
	fallocKeepSize  = 0x01
	fallocPunchHole = 0x02
)

// errInvalidArg is what an argument out of range fails with on Windows,
// in os (Truncate(-1)) and in aio alike.
const errInvalidArg = windows.ERROR_INVALID_PARAMETER

// readDirOp is the Op of File.ReadDir's errors on Windows, as os's.
const readDirOp = "readdir"

// osFile is an *os.File with the File methods os lacks, made of the calls
// the iocp backend makes (FlushFileBuffers; iocp.Allocate), with aio's
// Op names. Two of os's own methods are corrected where os on Windows
// departs from what os promises elsewhere and aio keeps:
//
//   - Seek with an unknown whence: syscall.Seek takes it for io.SeekStart
//     on the synchronous handles os.OpenFile makes, and moves the offset
//     to 0. os's overlapped files (internal/poll's FD.Seek) refuse it
//     with ERROR_INVALID_PARAMETER and leave the offset alone, as aio
//     does.
//   - Stat of a closed file: os asks GetFileType about the invalid handle
//     its Close left (ERROR_INVALID_HANDLE, Op "GetFileType"); every
//     other method of a closed os.File, and os.File.Stat on Unix, says
//     os.ErrClosed, as aio does.
type osFile struct{ *os.File }

func (f osFile) SyncData() error { return f.control("syncdata", windows.FlushFileBuffers) }

func (f osFile) Allocate(ctx context.Context, mode uint32, off, length int64) error {
	if off < 0 || length <= 0 {
		return &fs.PathError{Op: "allocate", Path: f.Name(), Err: errInvalidArg}
	}
	return f.control("allocate", func(h windows.Handle) error { return iocp.Allocate(h, mode, off, length) })
}

func (f osFile) Seek(offset int64, whence int) (int64, error) {
	if whence < 0 || whence > 2 {
		if f.closed() {
			return 0, &fs.PathError{Op: "seek", Path: f.Name(), Err: os.ErrClosed}
		}
		return 0, &fs.PathError{Op: "seek", Path: f.Name(), Err: errInvalidArg}
	}
	return f.File.Seek(offset, whence)
}

func (f osFile) Stat() (fs.FileInfo, error) {
	if f.closed() {
		return nil, &fs.PathError{Op: "stat", Path: f.Name(), Err: os.ErrClosed}
	}
	return f.File.Stat()
}

// closed reports whether f was closed.
func (f osFile) closed() bool {
	rc, err := f.SyscallConn()
	return err != nil || rc.Control(func(uintptr) {}) != nil
}

// control runs fn on the handle, as os.File's methods do: a closed file
// is os.ErrClosed.
func (f osFile) control(op string, fn func(h windows.Handle) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return &fs.PathError{Op: op, Path: f.Name(), Err: os.ErrClosed}
	}
	var callErr error
	if err := rc.Control(func(h uintptr) { callErr = fn(windows.Handle(h)) }); err != nil {
		return &fs.PathError{Op: op, Path: f.Name(), Err: os.ErrClosed}
	}
	if callErr != nil {
		return &fs.PathError{Op: op, Path: f.Name(), Err: callErr}
	}
	return nil
}
