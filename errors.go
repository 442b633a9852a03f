package aio

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
)

// ErrCanceled is the error of an operation that was really cancelled: the
// kernel stopped it before it transferred anything. It matches
// syscall.ECANCELED with errors.Is, and errors.Is(err, ErrCanceled) holds
// for every cancelled operation's error, whatever asked for the cancel.
var ErrCanceled error = errCanceled{}

type errCanceled struct{}

func (errCanceled) Error() string        { return "operation canceled" }
func (errCanceled) Is(target error) bool { return target == syscall.ECANCELED }
func (errCanceled) Unwrap() error        { return syscall.ECANCELED }

// canceledError is a cancelled operation's error, remembering why it was
// cancelled: a context (cause is its Err), a Close (os.ErrClosed), or an
// explicit Op.Cancel (cause nil). It matches ErrCanceled,
// syscall.ECANCELED and its cause; a context deadline also matches
// os.ErrDeadlineExceeded and reports Timeout() == true, as net.Error.
type canceledError struct{ cause error }

// canceledBy is the error of an operation cancelled for cause: one
// shared value for each usual cause (a deadline, a context, a Close, an
// Op's Cancel), so that such a cancel costs no allocation (net/http ends
// a background read with a past deadline on every request).
func canceledBy(cause error) *canceledError {
	for _, e := range commonCancels {
		if e.cause == cause {
			return e
		}
	}
	return &canceledError{cause: cause}
}

var commonCancels = [...]*canceledError{
	{cause: nil}, // Op.Cancel's
	{cause: os.ErrDeadlineExceeded},
	{cause: context.Canceled},
	{cause: context.DeadlineExceeded},
	{cause: os.ErrClosed},
	{cause: net.ErrClosed},
}

func (e *canceledError) Error() string {
	switch {
	case e.cause == nil:
		return "operation canceled"
	case e.Timeout():
		return "i/o timeout"
	default:
		return "operation canceled: " + e.cause.Error()
	}
}

func (e *canceledError) Is(target error) bool {
	switch target {
	case ErrCanceled, syscall.ECANCELED:
		return true
	case os.ErrDeadlineExceeded:
		return e.Timeout()
	}
	return e.cause != nil && errors.Is(e.cause, target)
}

func (e *canceledError) Unwrap() error { return syscall.ECANCELED }

// Timeout reports whether a deadline (a context's or a socket's) caused
// the cancel.
func (e *canceledError) Timeout() bool {
	return errors.Is(e.cause, context.DeadlineExceeded) || errors.Is(e.cause, os.ErrDeadlineExceeded)
}

// Temporary is false: a cancelled operation is final. (net.Error asks.)
func (e *canceledError) Temporary() bool { return false }

// UnsupportedError is the error of an operation this kernel or backend
// cannot do; it names what is missing (an io_uring opcode, say) and
// matches errors.ErrUnsupported.
type UnsupportedError struct {
	Backend string // "uring", ...
	Op      string // what is missing, e.g. "IORING_OP_STATX"
}

func (e *UnsupportedError) Error() string {
	return "aio: " + e.Op + " is not supported by the " + e.Backend + " backend on this system"
}

// Is matches errors.ErrUnsupported.
func (e *UnsupportedError) Is(target error) bool { return target == errors.ErrUnsupported }

var (
	// errClosedBeforeStart: a call on the readiness path found its File
	// closed and did nothing (see pollFD.call).
	errClosedBeforeStart = errors.New("closed before the call started")

	errNegativeOffset = errors.New("negative offset")
	errOtherRing      = errors.New("file belongs to another ring")
	errOpInUse        = errors.New("aio: Op reused before its operation completed")
	errTooLarge       = errors.New("buffer larger than the 1 GiB a single operation accepts")
)
