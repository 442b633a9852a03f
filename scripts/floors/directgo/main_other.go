//go:build !linux

// Command directgo measures io_uring shapes: Linux only (see main_linux.go).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "directgo: io_uring is Linux's")
	os.Exit(2)
}
