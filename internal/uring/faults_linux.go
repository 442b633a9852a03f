package uring

import "sync/atomic"

// Fault injection, for tests only: faults the kernel will not produce on
// demand. Each hook is nil unless a test sets it through its
// ...ForTest setter; the cost when unset is one atomic load.

// EnterFault decides, before each io_uring_enter(2), whether to fail it
// without making the call: a non-nil error is returned as the kernel's
// (EINTR, EAGAIN, EBUSY, ...), with nothing submitted or reaped, as those
// errors mean.
type EnterFault func(r *Ring, toSubmit, minComplete, flags uint32) error

// SetupFault decides, before each io_uring_setup(2), whether to fail it
// without making the call (ENOMEM, say).
type SetupFault func(entries uint32, p *Params) error

// LengthFault shrinks the length of a read, write, send or receive as it
// is handed to the kernel (n > 0; the result must be in 1..n), so that the
// kernel transfers fewer bytes than asked and reports exactly those: a
// short transfer, never an under-reported one.
type LengthFault func(op uint8, n uint32) uint32

var (
	enterFault  atomic.Pointer[EnterFault]
	setupFault  atomic.Pointer[SetupFault]
	lengthFault atomic.Pointer[LengthFault]
)

// SetEnterFaultForTest installs f (nil removes it) for every ring of the
// process and returns a function that puts back the previous one.
func SetEnterFaultForTest(f EnterFault) (restore func()) {
	var fp *EnterFault
	if f != nil {
		fp = &f
	}
	old := enterFault.Swap(fp)
	return func() { enterFault.Store(old) }
}

// SetSetupFaultForTest installs f (nil removes it) and returns a function
// that puts back the previous one.
func SetSetupFaultForTest(f SetupFault) (restore func()) {
	var fp *SetupFault
	if f != nil {
		fp = &f
	}
	old := setupFault.Swap(fp)
	return func() { setupFault.Store(old) }
}

// SetLengthFaultForTest installs f (nil removes it) for every SQE prepared
// from now on and returns a function that puts back the previous one.
func SetLengthFaultForTest(f LengthFault) (restore func()) {
	var fp *LengthFault
	if f != nil {
		fp = &f
	}
	old := lengthFault.Swap(fp)
	return func() { lengthFault.Store(old) }
}

// shrink applies the length fault, if any, to a transfer of n bytes.
func shrink(op uint8, n uint32) uint32 {
	if f := lengthFault.Load(); f != nil && n > 1 {
		if m := (*f)(op, n); m >= 1 && m < n {
			return m
		}
	}
	return n
}
