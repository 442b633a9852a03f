//go:build !unix && !windows

package aiotest

import "testing"

// hugeBuffer: no way to reserve address space here.
func hugeBuffer(t *testing.T) ([]byte, func(), bool) {
	t.Log("no way to reserve a huge buffer on this system: not tried")
	return nil, nil, false
}
