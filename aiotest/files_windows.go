package aiotest

import (
	"context"
	"errors"
	"io/fs"
	"os"
)

// No named pipes in a Windows directory tree.
func mkfifo(name string) error { return errors.ErrUnsupported }

// Linux's fallocate modes.
const (
	fallocKeepSize  = 0x01
	fallocPunchHole = 0x02
)

// osFile is an *os.File with the File methods os lacks. On Windows they
// are for the iocp backend's helper to define (FlushFileBuffers,
// SetFileInformationByHandle).
type osFile struct{ *os.File }

func (f osFile) SyncData() error {
	return &fs.PathError{Op: "syncdata", Path: f.Name(), Err: errors.ErrUnsupported}
}

func (f osFile) Allocate(ctx context.Context, mode uint32, off, length int64) error {
	return &fs.PathError{Op: "allocate", Path: f.Name(), Err: errors.ErrUnsupported}
}
