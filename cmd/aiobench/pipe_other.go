//go:build !windows

package main

import (
	"os"

	"github.com/waitforit/aio"
)

// pipe makes a pipe whose write end is an *os.File. Its read end is an
// *os.File when ring is nil, else an *aio.File of ring (adopted from
// os.Pipe's, which is closed at once).
func pipe(ring *aio.Ring) (osR *os.File, aioR *aio.File, w *os.File, err error) {
	pr, pw, err := os.Pipe()
	if err != nil || ring == nil {
		return pr, nil, pw, err
	}
	defer pr.Close()
	ar, err := ring.NewFile(pr)
	if err != nil {
		pw.Close()
		return nil, nil, nil, err
	}
	return nil, ar, pw, nil
}
