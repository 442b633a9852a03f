//go:build unix && !linux && !dragonfly

package portable

import "golang.org/x/sys/unix"

func readlinkat(dirfd int, path string, buf []byte) (int, error) {
	return unix.Readlinkat(dirfd, path, buf)
}
