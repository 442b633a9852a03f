package portable

import "golang.org/x/sys/unix"

// readlinkat: x/sys has no readlinkat for DragonFly; paths relative to
// the working directory use readlink(2).
func readlinkat(dirfd int, path string, buf []byte) (int, error) {
	if dirfd != unix.AT_FDCWD {
		return 0, unix.ENOSYS
	}
	return unix.Readlink(path, buf)
}
