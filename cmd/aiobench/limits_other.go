//go:build !unix

package main

// ensureFileLimit has nothing to raise here: no RLIMIT_NOFILE.
func ensureFileLimit(need uint64) error { return nil }
