//go:build !linux && !windows

package aio

import (
	"context"
	"io"
)

// xferHooks: no zero-copy transfer here, so none for a Close to abort.
type xferHooks struct{}

func (h *xferHooks) close() {}

// pipePool: splice is Linux's; no pipes elsewhere.
type pipePool struct{}

func (p *pipePool) close() {}

// zeroCopy: elsewhere every transfer is a copy through a pooled buffer
// (see mechanism.go).
func (r *Ring) zeroCopy(ctx context.Context, dst xend, src io.Reader) (int64, error, bool) {
	return 0, nil, false
}

func (r *Ring) zeroCopyTo(ctx context.Context, dst io.Writer, src xend) (int64, error, bool) {
	return 0, nil, false
}
