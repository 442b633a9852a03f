//go:build !unix

package aio

import (
	"context"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/waitforit/aio/internal/core"
)

// pollFD: no readiness path here (see mechanism.go); a File's poll is
// always nil, so these are never called.
type pollFD struct{}

const (
	dirRead  = 0
	dirWrite = 1
)

// sysCall: see poll_unix.go.
type sysCall interface {
	call(fd int) (int, syscall.Errno)
}

func (p *pollFD) call(ctx context.Context, dir int, kind core.Kind, buf []byte, flags int, addr []byte, custom sysCall, abort *atomic.Bool) (int32, int, error) {
	panic("aio: no readiness path on this system")
}
func (p *pollFD) connect(ctx context.Context, sa []byte) (int32, error) {
	panic("aio: no readiness path on this system")
}
func (p *pollFD) setUserDeadline(dir int, t time.Time) {}
func (p *pollFD) closing()                             {}
func (p *pollFD) close() error                         { return nil }

// pollSet: none here.
type pollSet struct{}

func (s *pollSet) close() {}
