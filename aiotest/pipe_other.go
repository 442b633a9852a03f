//go:build !windows

package aiotest

import (
	"net"
	"os"
	"testing"

	"github.com/waitforit/aio"
)

// pipe returns the read end of a fresh pipe as an aio.File and the write
// end as an *os.File; both are closed at the end of the test.
func pipe(t *testing.T, r *aio.Ring) (*aio.File, *os.File) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	af, err := r.NewFile(pr)
	pr.Close() // af has its own descriptor
	if err != nil {
		pw.Close()
		t.Fatal(err)
	}
	closeAtEnd(t, af, pw)
	return af, pw
}

// aioPipe returns both ends of a fresh pipe as aio.Files: reads on the
// first, writes on the second.
func aioPipe(t *testing.T, r *aio.Ring) (rd, wr *aio.File) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if rd, err = r.NewFile(pr); err != nil {
		t.Fatal(err)
	}
	if wr, err = r.NewFile(pw); err != nil {
		rd.Close()
		t.Fatal(err)
	}
	closeAtEnd(t, rd, wr)
	return rd, wr
}

// writePipe returns the write end of a fresh pipe as an aio.File and the
// read end as an *os.File; both are closed at the end of the test.
func writePipe(t *testing.T, r *aio.Ring) (*aio.File, *os.File) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	wr, err := r.NewFile(pw)
	pw.Close() // wr has its own descriptor
	if err != nil {
		pr.Close()
		t.Fatal(err)
	}
	closeAtEnd(t, wr, pr)
	return wr, pr
}

// pipeWithDrain returns the read end of a fresh pipe as an aio.File, the
// same read end as an *os.File (to read what is left once the aio.File
// is closed) and the write end; all are closed at the end of the test.
func pipeWithDrain(t *testing.T, r *aio.Ring) (rd *aio.File, drain, w *os.File) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	rd, err = r.NewFile(pr)
	if err != nil {
		pr.Close()
		pw.Close()
		t.Fatal(err)
	}
	closeAtEnd(t, rd, pr, pw)
	return rd, pr, pw
}

// socketFile returns the server end of a fresh loopback TCP connection as
// an aio.File (Ring.NewFile of the socket) and the client end, to write
// to it; ok is false where a socket cannot be made a File.
func socketFile(t *testing.T, r *aio.Ring) (rd *aio.File, w net.Conn, ok bool) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Logf("no loopback TCP: %v", err)
		return nil, nil, false
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ln.Accept()
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	defer srv.Close()
	sf, err := srv.(*net.TCPConn).File()
	if err != nil {
		c.Close()
		t.Logf("a socket cannot be a File here: %v", err)
		return nil, nil, false
	}
	defer sf.Close()
	rd, err = r.NewFile(sf)
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	closeAtEnd(t, rd, c)
	return rd, c, true
}
