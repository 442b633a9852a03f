//go:build !unix && !windows

package aio

// prepareFD: no readiness path here; the driver serves every operation.
func (r *Ring) prepareFD(fd int, name string, origin fdOrigin, into *pollFD) (int, *pollFD, error) {
	return fd, nil, nil
}

// systemLimits: see ProbeResult.Limits.
func systemLimits(backend string) []string { return nil }
