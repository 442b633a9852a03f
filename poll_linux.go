package aio

import (
	"context"
	"sync/atomic"

	"github.com/waitforit/aio/internal/core"
)

// doFunc is call for a system call of the caller's: fn is made on the
// descriptor (retrying EINTR) until it does not answer EAGAIN, waiting in
// the netpoller for direction dir meanwhile. It returns fn's count or
// -errno, and why a wait ended without a result, as call.
//
// abort, if not nil, ends a wait as a kick does once it is set and
// kickAbort is called with it (a transfer's other side was closed): the
// cause is then os.ErrDeadlineExceeded, and the caller, who knows it
// aborted, says why.
func (p *pollFD) doFunc(ctx context.Context, dir int, abort *atomic.Bool, fn sysCall) (res int32, cause error) {
	res, _, cause = p.call(ctx, dir, core.KindNop, nil, 0, nil, fn, abort)
	return res, cause
}
