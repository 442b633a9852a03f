package aio

import "github.com/waitforit/aio/internal/core"

// DisableReadForTest makes the ring's backend report reads as unsupported,
// as a kernel without IORING_OP_READ would.
func DisableReadForTest(r *Ring) bool {
	d, ok := r.driver.(interface{ DisableOpcode(core.Kind) })
	if ok {
		d.DisableOpcode(core.KindRead)
	}
	return ok
}
