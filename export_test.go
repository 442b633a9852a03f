package aio

import (
	"github.com/waitforit/aio/internal/backend/sim"
	"github.com/waitforit/aio/internal/core"
)

// DisableReadForTest makes the ring's backend report reads as unsupported,
// as a kernel without IORING_OP_READ would.
func DisableReadForTest(r *Ring) bool {
	d, ok := r.driver.(interface{ DisableOpcode(core.Kind) })
	if ok {
		d.DisableOpcode(core.KindRead)
		r.learnKinds()
	}
	return ok
}

// SubmitEnters reports the io_uring_enter calls the ring made to submit,
// or false for backends that do not count them.
func SubmitEnters(r *Ring) (uint64, bool) {
	d, ok := r.driver.(interface{ SubmitEnters() uint64 })
	if !ok {
		return 0, false
	}
	return d.SubmitEnters(), true
}

// DisableMultishotForTest makes the ring's backend report multishot
// accept as unsupported, as a kernel before 5.19 would. Listeners made
// afterwards accept one request at a time.
func DisableMultishotForTest(r *Ring) bool {
	d, ok := r.driver.(interface{ DisableMultishot() })
	if ok {
		d.DisableMultishot()
		r.learnKinds()
	}
	return ok
}

// InKernelForTest reports how many requests the ring's io_uring holds
// (consumed from the SQ, final CQE not yet consumed), or false for other
// backends.
func InKernelForTest(r *Ring) (int, bool) {
	d, ok := r.driver.(interface{ InKernel() int })
	if !ok {
		return 0, false
	}
	return d.InKernel(), true
}

// SpuriousTaskrunForTest sets the uring ring's task-work flag with no
// task work behind it and pokes its owner; false for other backends.
func SpuriousTaskrunForTest(r *Ring) bool {
	d, ok := r.driver.(interface{ SpuriousTaskrunForTest() })
	if ok {
		d.SpuriousTaskrunForTest()
	}
	return ok
}

// OwnerAsleepForTest reports whether the uring ring's owner is asleep,
// and whether its task-work flag is set.
func OwnerAsleepForTest(r *Ring) (asleep, taskrunFlag bool) {
	d := r.driver.(interface{ OwnerAsleepForTest() (bool, bool) })
	return d.OwnerAsleepForTest()
}

// OwnerWakesForTest reports the uring ring's owner's wake-ups, how many
// were from a sleep parked in Go's netpoller, and whether the owner reads
// its eventfd itself (the default mode).
func OwnerWakesForTest(r *Ring) (wakes, parked uint64, ownerReads bool) {
	d := r.driver.(interface {
		OwnerWakesForTest() (uint64, uint64, bool)
	})
	return d.OwnerWakesForTest()
}

// FixedOpsForTest reports how many operations the ring submitted on
// registered buffers, or false for backends without them.
func FixedOpsForTest(r *Ring) (uint64, bool) {
	d, ok := r.driver.(interface{ FixedOps() uint64 })
	if !ok {
		return 0, false
	}
	return d.FixedOps(), true
}

// DisableTryNowForTest makes files and connections made afterwards on r
// submit every operation to the driver, even those the kernel could do
// at once (core.DirectDoer) and blocking calls on sockets and pipes (no
// readiness path: see mechanism.go): for tests of the driver's own
// paths. It reports whether the backend has a direct path at all.
func DisableTryNowForTest(r *Ring) bool {
	_, ok := r.driver.(core.DirectDoer)
	r.noDirect = true
	if d, isURing := r.driver.(interface{ KeepStreamsOnRing() }); isURing {
		d.KeepStreamsOnRing() // and Start calls on them through the ring's poll-armed requests
	}
	return ok
}

// KeepStreamsOnRingForTest makes the pipes and sockets r adopts or makes
// from now on take their Start calls through io_uring's poll-armed
// requests instead of the worker pool's netpoller path: for tests of the
// ring itself (wake-ups, overflow, enter faults). It reports whether r
// is a uring ring.
func KeepStreamsOnRingForTest(r *Ring) bool {
	d, ok := r.driver.(interface{ KeepStreamsOnRing() })
	if ok {
		d.KeepStreamsOnRing()
	}
	return ok
}

// FixedFileForTest reports whether f's descriptor is registered with its
// ring (io_uring's fixed files: from its first request through the ring).
func FixedFileForTest(f *File) bool {
	h, ok := f.handle.(interface{ FixedSlot() int })
	return ok && h.FixedSlot() >= 0
}

// SimTraceForTest returns the outcomes the simulator delivered (the last
// few thousand, as text), how many in all and a hash of all of them, or
// false for other backends.
func SimTraceForTest(r *Ring) (events []string, total, hash uint64, ok bool) {
	d, ok := r.driver.(interface {
		Trace() ([]sim.Event, uint64, uint64)
	})
	if !ok {
		return nil, 0, 0, false
	}
	evs, total, hash := d.Trace()
	for _, e := range evs {
		events = append(events, e.String())
	}
	return events, total, hash, true
}

// SkipKernelReadsForTest makes the reads r's Batches do at once (the
// driver's core.ManyDoer) succeed without the kernel, leaving their
// buffers as they were: what remains of a benchmark's CPU is aio's own
// bookkeeping. Call it before r has done anything.
func SkipKernelReadsForTest(r *Ring) {
	r.many = noKernelReads{}
}

type noKernelReads struct{}

func (noKernelReads) TryReadsNow(reads []core.ReadNow) bool {
	for i := range reads {
		reads[i].Res = int32(len(reads[i].Buf))
	}
	return true
}
