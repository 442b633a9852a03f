package main

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// residentFile keeps a data file in the page cache while the cached
// workloads run. This machine's kernel evicts page-cache pages that stay
// unused for a while, and a "cached" read that goes to the disk measures
// the disk. The file is mapped and mlock'ed for the whole run; if mlock
// is refused (RLIMIT_MEMLOCK without CAP_IPC_LOCK), touch reads every
// page back in before each cached workload instead.
type residentFile struct {
	data    []byte // the read-only shared mapping of the whole file
	locked  bool
	lockErr error // why mlock failed, if it did
}

// keepResident maps name (size bytes) and locks it in memory.
func keepResident(name string, size int64) (*residentFile, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the mapping outlives the descriptor
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", name, err)
	}
	r := &residentFile{data: data}
	if err := unix.Mlock(data); err != nil {
		r.lockErr = err
		r.touch()
	} else {
		r.locked = true
	}
	return r, nil
}

// touch reads one byte of every page, bringing evicted pages back. It is
// a no-op while the mapping is locked.
func (r *residentFile) touch() {
	if r.locked {
		return
	}
	var sum byte
	for i := 0; i < len(r.data); i += blockSize {
		sum += r.data[i]
	}
	_ = sum
}

// residency returns how many of the file's pages are in memory (mincore).
func (r *residentFile) residency() (resident, total int, err error) {
	vec := make([]byte, (len(r.data)+blockSize-1)/blockSize)
	// x/sys/unix has no mincore wrapper for Linux.
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&r.data[0])), uintptr(len(r.data)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		return 0, len(vec), errno
	}
	for _, v := range vec {
		resident += int(v & 1)
	}
	return resident, len(vec), nil
}

// method says how the file is kept resident.
func (r *residentFile) method() string {
	if r.locked {
		return "mmap+mlock for the whole run"
	}
	return fmt.Sprintf("mlock failed (%v): every page touched before each cached workload", r.lockErr)
}

// close unlocks and unmaps the file.
func (r *residentFile) close() {
	if r.locked {
		unix.Munlock(r.data)
	}
	unix.Munmap(r.data)
}

// fileResidency returns how many of the pages of file name (size bytes)
// are in the page cache, by mincore on a mapping it makes and drops
// (mapping a file reads nothing).
func fileResidency(name string, size int64) (resident, total int, err error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, 0, fmt.Errorf("mmap %s: %w", name, err)
	}
	defer unix.Munmap(data)
	r := residentFile{data: data}
	return r.residency()
}
