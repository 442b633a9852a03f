package uring

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio/internal/backend/portable"
	"github.com/waitforit/aio/internal/core"
	abi "github.com/waitforit/aio/internal/uring"
)

// maxFixedFiles is the size of the ring's table of registered files.
// Files beyond it (or on kernels without sparse tables) use their plain
// descriptor, as every file did before.
const maxFixedFiles = 4096

// fixedFile is a File's handle (core.FileAttacher) when its descriptor
// is registered with the ring: its requests name slot with
// IOSQE_FIXED_FILE, and the kernel skips looking the descriptor up (and
// taking and dropping a reference to its file) for each one.
//
// The slot is taken lazily, by the file's first request through the ring
// (ensure): a file whose operations all take other paths (a file
// server's, served with sendfile and statted at once) never costs the
// two calls on the owner's thread that registering and emptying a slot
// are.
type fixedFile struct {
	fd         int
	mu         sync.Mutex
	registered atomic.Bool
	tried      bool // (under mu) registration was attempted
	slot       uint32
}

// Attach makes fd's handle if fd is a regular file or a block device: the
// descriptors whose operations go through the ring; its first request
// registers it in the ring's file table (ensure). A nil handle means fd
// is used as it is. Registration is a call on the owner's thread (the
// ring's only issuer), so sockets and pipes, which a server makes by the
// thousand and whose blocking calls do not use the ring, skip it.
//
// A pipe, socket or terminal whose open file description is non-blocking
// (aio's own, or aio's private reopening of an adopted one) gets a
// streamHandle instead: its transfers (the Start calls and Batches on
// it; its blocking calls take the readiness path above the driver) go to
// the worker pool's netpoller path, not through the ring (see route).
func (d *Driver) Attach(fd int) (any, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, nil // the operations will say what is wrong with fd
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFBLK:
		return &fixedFile{fd: fd}, nil
	case unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFCHR:
		if d.streamsOnRing.Load() {
			return nil, nil
		}
		if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK == 0 {
			return nil, nil // blocking, and not ours to change: the ring's poll-armed requests
		}
		ps, err := d.workerDriver().Attach(fd)
		if pollable, _ := portable.Describe(ps); err != nil || !pollable {
			return nil, nil
		}
		return &streamHandle{ps: ps}, nil
	}
	return nil, nil
}

// streamHandle is a non-blocking stream's handle: the worker pool's
// state for it (see Attach).
type streamHandle struct{ ps any }

// streamTransfer reports whether r is a transfer on a stream that the
// worker pool serves (see Attach). It may be asked more than once of a
// record (a Batch asks first whether any goes to the pool): it changes
// nothing; submitWorkers gives the pool its own handle.
func streamTransfer(r *core.Record) bool {
	if _, ok := r.Handle.(*streamHandle); !ok {
		return false
	}
	switch r.Kind {
	case core.KindRead, core.KindWrite, core.KindRecv, core.KindSend, core.KindRecvmsg, core.KindSendmsg:
		return true
	}
	return false
}

// KeepStreamsOnRing makes the streams attached from now on use the ring
// for their transfers, as blocking adopted ones do: for tests of the
// ring's poll-armed requests.
func (d *Driver) KeepStreamsOnRing() { d.streamsOnRing.Store(true) }

// ensure registers ff's descriptor in the ring's file table, once, before
// its first request through the ring. Called by the submitter, without
// sqMu (registration is a call on the owner's thread).
func (d *Driver) ensure(ff *fixedFile) {
	if ff.registered.Load() {
		return
	}
	ff.mu.Lock()
	defer ff.mu.Unlock()
	if ff.tried {
		return
	}
	ff.tried = true
	if slot, ok := d.register(ff.fd); ok {
		ff.slot = slot
		ff.registered.Store(true)
	}
}

// register puts fd in a free slot of the file table, creating the table
// (empty, sparse) on first use.
func (d *Driver) register(fd int) (uint32, bool) {
	d.regMu.Lock()
	defer d.regMu.Unlock()
	if d.noFixedFiles {
		return 0, false
	}
	if !d.fileTable {
		reg := abi.RsrcRegister{Nr: maxFixedFiles, Flags: abi.RsrcRegisterSparse}
		if err := d.call(func() error {
			_, err := d.ring.Register(abi.RegisterFiles2, unsafe.Pointer(&reg), uint32(unsafe.Sizeof(reg)))
			return err
		}); err != nil {
			d.noFixedFiles = true // before 5.19, RLIMIT_NOFILE below the table, or closed
			return 0, false
		}
		d.fileTable = true
		d.fileFree = make([]uint32, 0, maxFixedFiles)
		for i := maxFixedFiles - 1; i >= 0; i-- {
			d.fileFree = append(d.fileFree, uint32(i))
		}
	}
	n := len(d.fileFree)
	if n == 0 {
		return 0, false
	}
	slot := d.fileFree[n-1]
	if err := d.setFileLocked(slot, int32(fd)); err != nil {
		return 0, false
	}
	d.fileFree = d.fileFree[:n-1]
	return slot, true
}

// Detach empties fd's slot. The core calls it after every operation on fd
// has completed and before fd is closed: the table holds a reference to
// the file, which would otherwise keep it open.
func (d *Driver) Detach(fd int, handle any) {
	if sh, ok := handle.(*streamHandle); ok {
		d.workerDriver().Detach(fd, sh.ps)
		return
	}
	ff, ok := handle.(*fixedFile)
	if !ok || !ff.registered.Load() { // (every request has completed: no ensure runs)
		return
	}
	d.regMu.Lock()
	defer d.regMu.Unlock()
	if err := d.setFileLocked(ff.slot, -1); err == os.ErrClosed {
		return // closing the ring released the table
	} else if err != nil {
		panic(fmt.Sprintf("aio: inconsistent io_uring file table: emptying slot %d: %v", ff.slot, err))
	}
	d.fileFree = append(d.fileFree, ff.slot)
}

// setFileLocked puts fd (-1: nothing) in slot, on the owner's thread.
// Called with regMu held.
func (d *Driver) setFileLocked(slot uint32, fd int32) error {
	return d.call(func() error {
		up := abi.RsrcUpdate2{Offset: slot, Data: uint64(uintptr(unsafe.Pointer(&fd))), Nr: 1}
		_, err := d.ring.Register(abi.RegisterFilesUpdate2, unsafe.Pointer(&up), uint32(unsafe.Sizeof(up)))
		runtime.KeepAlive(&fd) // up.Data holds it as a number only
		return err
	})
}

// FixedSlot is the slot of a registered file, or -1 while it has none
// (tests look for the method).
func (f *fixedFile) FixedSlot() int {
	if !f.registered.Load() {
		return -1
	}
	return int(f.slot)
}
