package uring

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	abi "github.com/waitforit/aio/internal/uring"
	"golang.org/x/sys/unix"
)

// maxRegistered is the size of the ring's table of registered buffers:
// how many buffer pools may be registered at once (each pool registers
// its whole memory as one buffer, which fixed operations may address
// anywhere inside).
const maxRegistered = 64

// maxRegisteredLen is the kernel's limit on one registered buffer.
const maxRegisteredLen = 1 << 30

// RegisterBuffer registers p with the kernel for READ_FIXED/WRITE_FIXED
// and returns its index in the ring's buffer table. The table is created
// on first use, empty (sparse); each buffer fills one entry. The pages
// are pinned and count against RLIMIT_MEMLOCK (unless the process has
// CAP_IPC_LOCK): an error says so, and the caller goes on without.
func (d *Driver) RegisterBuffer(p []byte) (uint16, error) {
	if len(p) == 0 || len(p) > maxRegisteredLen {
		return 0, fmt.Errorf("io_uring: cannot register a buffer of %d bytes: %w", len(p), errors.ErrUnsupported)
	}
	d.regMu.Lock()
	defer d.regMu.Unlock()
	if !d.regTable {
		if err := d.registerTableLocked(); err != nil {
			return 0, err
		}
		d.regTable = true
	}
	idx := -1
	for i, used := range d.regUsed {
		if !used {
			idx = i
			break
		}
	}
	if idx < 0 {
		return 0, fmt.Errorf("io_uring: all %d registered buffer slots in use: %w", maxRegistered, errors.ErrUnsupported)
	}
	err := d.call(func() error {
		iov := unix.Iovec{Base: &p[0]}
		iov.SetLen(len(p))
		up := abi.RsrcUpdate2{Offset: uint32(idx), Data: uint64(uintptr(unsafe.Pointer(&iov))), Nr: 1}
		_, err := d.ring.Register(abi.RegisterBuffersUpdate, unsafe.Pointer(&up), uint32(unsafe.Sizeof(up)))
		runtime.KeepAlive(&iov) // up.Data holds it as a number only
		return err
	})
	if err == os.ErrClosed {
		return 0, err
	} else if err != nil {
		return 0, os.NewSyscallError("io_uring_register(BUFFERS_UPDATE)", err)
	}
	d.regUsed[idx] = true
	return uint16(idx), nil
}

// registerTableLocked creates the empty buffer table: sparse (5.19+), or
// on older kernels (5.13+) as entries with no memory.
func (d *Driver) registerTableLocked() error {
	err := d.call(func() error {
		reg := abi.RsrcRegister{Nr: maxRegistered, Flags: abi.RsrcRegisterSparse}
		_, err := d.ring.Register(abi.RegisterBuffers2, unsafe.Pointer(&reg), uint32(unsafe.Sizeof(reg)))
		if errors.Is(err, unix.EINVAL) {
			var empty [maxRegistered]unix.Iovec
			reg = abi.RsrcRegister{Nr: maxRegistered, Data: uint64(uintptr(unsafe.Pointer(&empty[0])))}
			_, err = d.ring.Register(abi.RegisterBuffers2, unsafe.Pointer(&reg), uint32(unsafe.Sizeof(reg)))
			runtime.KeepAlive(&empty)
		}
		return err
	})
	if err == os.ErrClosed {
		return err
	} else if err != nil {
		return os.NewSyscallError("io_uring_register(BUFFERS2)", err)
	}
	return nil
}

// UnregisterBuffer empties entry idx. The caller guarantees no operation
// using it is in flight. On a closed ring there is nothing to do: closing
// the ring released every registration.
func (d *Driver) UnregisterBuffer(idx uint16) {
	d.regMu.Lock()
	defer d.regMu.Unlock()
	if !d.regUsed[idx] {
		panic(fmt.Sprintf("aio: inconsistent io_uring buffer table: entry %d not registered", idx))
	}
	d.regUsed[idx] = false
	err := d.call(func() error {
		var iov unix.Iovec
		up := abi.RsrcUpdate2{Offset: uint32(idx), Data: uint64(uintptr(unsafe.Pointer(&iov))), Nr: 1}
		_, err := d.ring.Register(abi.RegisterBuffersUpdate, unsafe.Pointer(&up), uint32(unsafe.Sizeof(up)))
		runtime.KeepAlive(&iov)
		return err
	})
	if err == os.ErrClosed {
		return // closing the ring released every registration
	} else if err != nil {
		panic(fmt.Sprintf("aio: inconsistent io_uring buffer table: unregistering entry %d: %v", idx, err))
	}
}

// FixedOps counts operations submitted as READ_FIXED/WRITE_FIXED (for tests).
func (d *Driver) FixedOps() uint64 { return d.fixedOps.Load() }
