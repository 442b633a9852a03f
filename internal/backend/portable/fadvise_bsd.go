//go:build freebsd || netbsd

package portable

import "golang.org/x/sys/unix"

// fadvise is posix_fadvise(2).
func fadvise(fd int, off, length int64, advice int) error {
	return unix.Fadvise(fd, off, length, advice)
}
