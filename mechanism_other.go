//go:build !unix && !windows

package aio

// prepareFD: every descriptor is the driver's here.
func (r *Ring) prepareFD(fd int, name string, origin fdOrigin) (int, *pollFD, error) {
	return fd, nil, nil
}
