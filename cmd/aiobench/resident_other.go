//go:build !linux

package main

import (
	"errors"
	"io"
	"os"
)

// residentFile keeps a data file in the page cache while the cached
// workloads run. Here, without mincore/mlock support in this tool, it
// reads the whole file before each cached workload and cannot report
// residency.
type residentFile struct {
	name string
}

// keepResident reads the file once so it starts cached.
func keepResident(name string, size int64) (*residentFile, error) {
	r := &residentFile{name: name}
	r.touch()
	return r, nil
}

// touch reads the whole file, bringing evicted pages back.
func (r *residentFile) touch() {
	f, err := os.Open(r.name)
	if err != nil {
		return
	}
	defer f.Close()
	io.Copy(io.Discard, f)
}

// residency is unknown on this platform.
func (r *residentFile) residency() (resident, total int, err error) {
	return 0, 0, errors.ErrUnsupported
}

// method says how the file is kept resident.
func (r *residentFile) method() string {
	return "whole file read before each cached workload (no mlock support here)"
}

// close releases nothing.
func (r *residentFile) close() {}

// fileResidency is unknown on this platform.
func fileResidency(name string, size int64) (resident, total int, err error) {
	return 0, 0, errors.ErrUnsupported
}
