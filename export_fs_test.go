package aio

import "github.com/waitforit/aio/internal/core"

// ForceWorkersForTest makes the ring's io_uring driver send every file
// system operation to its worker pool, as a kernel without their opcodes
// would. It reports false for backends without that choice.
func ForceWorkersForTest(r *Ring) bool {
	d, ok := r.driver.(interface{ ForceWorkers(core.Kind) })
	if !ok {
		return false
	}
	for _, fr := range fsRoutes {
		d.ForceWorkers(fr.kind)
	}
	return true
}

// DirFSWalkForTest makes the DirFSs of r made from now on resolve names
// themselves, one element at a time, as they do where openat2 is
// missing.
func DirFSWalkForTest(r *Ring) { r.dirfsWalk = true }
