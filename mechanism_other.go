//go:build !unix

package aio

// readinessAvailable: no readiness path here; the driver serves every
// operation.
const readinessAvailable = false

// prepareFD: every descriptor is the driver's here.
func (r *Ring) prepareFD(fd int, name string, origin fdOrigin) (int, *pollFD, error) {
	return fd, nil, nil
}
