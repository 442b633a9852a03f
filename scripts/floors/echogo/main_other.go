//go:build !unix

// Command echogo measures tcp-echo's floor through RawConn: Unix only
// (see main.go).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "echogo: its RawConn floor makes Unix system calls")
	os.Exit(2)
}
