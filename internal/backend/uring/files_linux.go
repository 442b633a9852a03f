package uring

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"

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
type fixedFile struct{ slot uint32 }

// Attach registers fd in the ring's file table, creating the table (empty,
// sparse) on first use, if fd is a regular file or a block device: the
// descriptors whose operations go through the ring. A nil handle means fd
// is used as it is. Registration is a call on the owner's thread (the
// ring's only issuer), so sockets and pipes, which a server makes by the
// thousand and whose blocking calls do not use the ring, skip it.
func (d *Driver) Attach(fd int) (any, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, nil // the operations will say what is wrong with fd
	}
	if m := st.Mode & unix.S_IFMT; m != unix.S_IFREG && m != unix.S_IFBLK {
		return nil, nil
	}
	d.regMu.Lock()
	defer d.regMu.Unlock()
	if d.noFixedFiles {
		return nil, nil
	}
	if !d.fileTable {
		reg := abi.RsrcRegister{Nr: maxFixedFiles, Flags: abi.RsrcRegisterSparse}
		if err := d.call(func() error {
			_, err := d.ring.Register(abi.RegisterFiles2, unsafe.Pointer(&reg), uint32(unsafe.Sizeof(reg)))
			return err
		}); err != nil {
			d.noFixedFiles = true // before 5.19, RLIMIT_NOFILE below the table, or closed
			return nil, nil
		}
		d.fileTable = true
		d.fileFree = make([]uint32, 0, maxFixedFiles)
		for i := maxFixedFiles - 1; i >= 0; i-- {
			d.fileFree = append(d.fileFree, uint32(i))
		}
	}
	n := len(d.fileFree)
	if n == 0 {
		return nil, nil
	}
	slot := d.fileFree[n-1]
	if err := d.setFileLocked(slot, int32(fd)); err != nil {
		return nil, nil
	}
	d.fileFree = d.fileFree[:n-1]
	return &fixedFile{slot}, nil
}

// Detach empties fd's slot. The core calls it after every operation on fd
// has completed and before fd is closed: the table holds a reference to
// the file, which would otherwise keep it open.
func (d *Driver) Detach(fd int, handle any) {
	ff, ok := handle.(*fixedFile)
	if !ok {
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

// FixedSlot is the slot of a registered file (tests look for the method).
func (f *fixedFile) FixedSlot() uint32 { return f.slot }
