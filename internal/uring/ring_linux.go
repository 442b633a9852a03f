package uring

import (
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Ring is one io_uring instance: its file descriptor and the three shared
// memory regions. Ring does no locking: the SQ side (GetSQE, Publish) must
// have one producer at a time and the CQ side (Peek, Advance) one consumer.
type Ring struct {
	Fd       int
	Params   Params
	sqMem    []byte
	cqMem    []byte
	sqeMem   []byte
	sqHead   *uint32 // written by the kernel
	sqTail   *uint32 // written by us (store-release)
	sqFlags  *uint32 // written by the kernel
	sqMask   uint32
	sqArray  []uint32
	sqes     []SQE
	sqLocal  uint32  // our next tail, published by Publish
	cqHead   *uint32 // written by us (store-release)
	cqTail   *uint32 // written by the kernel
	cqFlags  *uint32
	cqMask   uint32
	cqes     []CQE
	cqOverfl *uint32
}

// Setup creates a ring with io_uring_setup(2) and maps its memory. p.Flags
// selects setup flags; on return p holds what the kernel filled in.
func Setup(entries uint32, p *Params) (*Ring, error) {
	if f := setupFault.Load(); f != nil {
		if err := (*f)(entries, p); err != nil {
			return nil, err
		}
	}
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
	if errno != 0 {
		return nil, errno
	}
	r := &Ring{Fd: int(fd), Params: *p}
	if err := r.mmap(); err != nil {
		unix.Close(r.Fd)
		return nil, err
	}
	return r, nil
}

func (r *Ring) mmap() error {
	p := &r.Params
	sqSize := int(p.SQOff.Array + p.SQEntries*4)
	cqSize := int(p.CQOff.Cqes + p.CQEntries*uint32(unsafe.Sizeof(CQE{})))
	single := p.Features&FeatSingleMmap != 0
	if single && cqSize > sqSize {
		sqSize = cqSize
	}
	var err error
	r.sqMem, err = unix.Mmap(r.Fd, OffSQRing, sqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return err
	}
	if single {
		r.cqMem = r.sqMem
	} else {
		r.cqMem, err = unix.Mmap(r.Fd, OffCQRing, cqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err != nil {
			r.unmap()
			return err
		}
	}
	sqeSize := int(p.SQEntries) * int(unsafe.Sizeof(SQE{}))
	r.sqeMem, err = unix.Mmap(r.Fd, OffSQEs, sqeSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		r.unmap()
		return err
	}
	sq := unsafe.Pointer(&r.sqMem[0])
	r.sqHead = (*uint32)(unsafe.Add(sq, p.SQOff.Head))
	r.sqTail = (*uint32)(unsafe.Add(sq, p.SQOff.Tail))
	r.sqFlags = (*uint32)(unsafe.Add(sq, p.SQOff.Flags))
	r.sqMask = *(*uint32)(unsafe.Add(sq, p.SQOff.RingMask))
	r.sqArray = unsafe.Slice((*uint32)(unsafe.Add(sq, p.SQOff.Array)), p.SQEntries)
	r.sqes = unsafe.Slice((*SQE)(unsafe.Pointer(&r.sqeMem[0])), p.SQEntries)
	cq := unsafe.Pointer(&r.cqMem[0])
	r.cqHead = (*uint32)(unsafe.Add(cq, p.CQOff.Head))
	r.cqTail = (*uint32)(unsafe.Add(cq, p.CQOff.Tail))
	r.cqFlags = (*uint32)(unsafe.Add(cq, p.CQOff.Flags))
	r.cqOverfl = (*uint32)(unsafe.Add(cq, p.CQOff.Overflow))
	r.cqMask = *(*uint32)(unsafe.Add(cq, p.CQOff.RingMask))
	r.cqes = unsafe.Slice((*CQE)(unsafe.Add(cq, p.CQOff.Cqes)), p.CQEntries)
	// The SQ index array maps ring slots to SQEs; identity, set once.
	for i := range r.sqArray {
		r.sqArray[i] = uint32(i)
	}
	r.sqLocal = atomic.LoadUint32(r.sqTail)
	return nil
}

func (r *Ring) unmap() {
	if r.sqeMem != nil {
		unix.Munmap(r.sqeMem)
		r.sqeMem = nil
	}
	if r.cqMem != nil && len(r.sqMem) > 0 && &r.cqMem[0] != &r.sqMem[0] {
		unix.Munmap(r.cqMem)
	}
	r.cqMem = nil
	if r.sqMem != nil {
		unix.Munmap(r.sqMem)
		r.sqMem = nil
	}
}

// Close unmaps the ring and closes its descriptor. The kernel cancels
// whatever is still in flight; callers that care drain the ring first.
func (r *Ring) Close() error {
	r.unmap()
	return unix.Close(r.Fd)
}

// GetSQE returns the next free SQE, zeroed, or nil when the SQ is full (the
// kernel has not yet consumed earlier entries). The entry becomes visible to
// the kernel only at the next Publish.
func (r *Ring) GetSQE() *SQE {
	head := atomic.LoadUint32(r.sqHead) // load-acquire: the kernel is done with slots before head
	if r.sqLocal-head >= uint32(len(r.sqes)) {
		return nil
	}
	sqe := &r.sqes[r.sqLocal&r.sqMask]
	*sqe = SQE{}
	r.sqLocal++
	return sqe
}

// Publish makes every SQE obtained so far visible to the kernel (a
// store-release of the SQ tail) and returns how many are waiting to be
// consumed by io_uring_enter.
func (r *Ring) Publish() uint32 {
	atomic.StoreUint32(r.sqTail, r.sqLocal)
	return r.sqLocal - atomic.LoadUint32(r.sqHead)
}

// Tail is the SQ tail as of the last Publish: the sequence number just
// past the newest published SQE.
func (r *Ring) Tail() uint32 { return r.sqLocal }

// Consumed reports whether the kernel has consumed every SQE before seq.
func (r *Ring) Consumed(seq uint32) bool {
	return int32(atomic.LoadUint32(r.sqHead)-seq) >= 0
}

// SQHead is the kernel's SQ head: the number of SQEs it has consumed,
// modulo 2^32.
func (r *Ring) SQHead() uint32 { return atomic.LoadUint32(r.sqHead) }

// SQPending is the number of published SQEs the kernel has not consumed.
func (r *Ring) SQPending() uint32 {
	return atomic.LoadUint32(r.sqTail) - atomic.LoadUint32(r.sqHead)
}

// SQFull reports whether every SQ slot holds a published SQE the kernel
// has not consumed: what IORING_ENTER_SQ_WAIT waits to end.
func (r *Ring) SQFull() bool { return r.SQPending() >= uint32(len(r.sqes)) }

// SQFlags returns the kernel-written SQ flags (SQCQOverflow, SQTaskrun, ...).
func (r *Ring) SQFlags() uint32 { return atomic.LoadUint32(r.sqFlags) }

// OrSQFlagsForTest sets bits in the SQ flags as the kernel would (a test
// makes the kernel's own spurious IORING_SQ_TASKRUN this way: see the
// uring driver's taskWork).
func (r *Ring) OrSQFlagsForTest(bits uint32) { atomic.OrUint32(r.sqFlags, bits) }

// EventfdEnabled reports whether the registered eventfd is signalled
// (IORING_CQ_EVENTFD_DISABLED clear).
func (r *Ring) EventfdEnabled() bool {
	return atomic.LoadUint32(r.cqFlags)&CQEventfdDisabled == 0
}

// SetEventfdEnabled sets or clears IORING_CQ_EVENTFD_DISABLED. The flag
// word belongs to the application (the kernel only reads it) and this is
// its only bit, so a store is enough.
func (r *Ring) SetEventfdEnabled(on bool) {
	v := uint32(CQEventfdDisabled)
	if on {
		v = 0
	}
	atomic.StoreUint32(r.cqFlags, v)
}

// CQReady returns the number of completions ready to be consumed.
func (r *Ring) CQReady() uint32 {
	return atomic.LoadUint32(r.cqTail) - atomic.LoadUint32(r.cqHead) // tail: load-acquire
}

// PeekCQE returns the i-th ready completion (i < CQReady()). The entry stays
// valid until Advance passes it.
func (r *Ring) PeekCQE(i uint32) *CQE {
	return &r.cqes[(atomic.LoadUint32(r.cqHead)+i)&r.cqMask]
}

// Advance hands n consumed CQ entries back to the kernel (store-release).
func (r *Ring) Advance(n uint32) {
	atomic.StoreUint32(r.cqHead, atomic.LoadUint32(r.cqHead)+n)
}

// Overflow is the kernel's count of completions it had to drop (always 0
// with FeatNodrop, where overflowed entries wait in the kernel instead).
func (r *Ring) Overflow() uint32 { return atomic.LoadUint32(r.cqOverfl) }

// Enter calls io_uring_enter(2). It does not retry EINTR.
func (r *Ring) Enter(toSubmit, minComplete, flags uint32, arg unsafe.Pointer, argSize uintptr) (int, error) {
	if f := enterFault.Load(); f != nil {
		if err := (*f)(r, toSubmit, minComplete, flags); err != nil {
			return 0, err
		}
	}
	n, _, errno := syscall.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.Fd), uintptr(toSubmit), uintptr(minComplete), uintptr(flags), uintptr(arg), argSize)
	if errno != 0 {
		return int(n), errno
	}
	return int(n), nil
}

// Register calls io_uring_register(2).
func (r *Ring) Register(opcode uint32, arg unsafe.Pointer, nrArgs uint32) (int, error) {
	n, _, errno := syscall.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.Fd), uintptr(opcode), uintptr(arg), uintptr(nrArgs), 0, 0)
	if errno != 0 {
		return int(n), errno
	}
	return int(n), nil
}

// Probe asks the kernel which opcodes it supports (IORING_REGISTER_PROBE).
func (r *Ring) Probe() (*Probe, error) {
	p := new(Probe)
	if _, err := r.Register(RegisterProbe, unsafe.Pointer(p), uint32(len(p.Ops))); err != nil {
		return nil, err
	}
	return p, nil
}

// Errno converts a negative CQE result to a syscall.Errno.
func Errno(res int32) syscall.Errno { return syscall.Errno(-res) }
