//go:build darwin || openbsd || dragonfly

package portable

// fadvise: no posix_fadvise(2) here. Advice is only a hint, so taking
// none is correct.
func fadvise(fd int, off, length int64, advice int) error { return nil }
