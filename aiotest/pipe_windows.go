package aiotest

// Windows: the pipes of os.Pipe are anonymous and synchronous, so I/O on
// them cannot be overlapped. The suite's pipes are named pipes instead,
// overlapped at both ends, and the aio end is opened through the ring
// (Ring.Open of the pipe's name), so that its handle is associated with
// the ring's completion port: the backend's main path.
//
// (An overlapped handle wrapped by os.NewFile is bound to the Go runtime's
// own completion port before Ring.NewFile can see it, and a file object
// belongs to one port for life; Ring.NewFile then drives it with an event
// per operation. That path, and Ring.NewFile of synchronous handles, are
// exercised by the Windows cases in modes_windows.go.)

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/windows"

	"github.com/waitforit/aio"
)

var pipeSeq atomic.Uint64

// namedPipe creates the server end of a fresh byte-mode named pipe,
// overlapped, for one client, and returns it with the pipe's name.
func namedPipe(t testing.TB) (windows.Handle, string) {
	t.Helper()
	name := fmt.Sprintf(`\\.\pipe\aiotest-%d-%d`, os.Getpid(), pipeSeq.Add(1))
	namep, err := windows.UTF16PtrFromString(name)
	if err != nil {
		t.Fatal(err)
	}
	h, err := windows.CreateNamedPipe(namep,
		windows.PIPE_ACCESS_DUPLEX|windows.FILE_FLAG_OVERLAPPED|windows.FILE_FLAG_FIRST_PIPE_INSTANCE,
		windows.PIPE_TYPE_BYTE|windows.PIPE_READMODE_BYTE|windows.PIPE_WAIT|windows.PIPE_REJECT_REMOTE_CLIENTS,
		1, 64<<10, 64<<10, 0, nil)
	if err != nil {
		t.Fatalf("CreateNamedPipe %s: %v", name, err)
	}
	return h, name
}

// connected waits until the client of server h has connected (it has
// already opened the pipe: this returns at once).
func connected(t testing.TB, h windows.Handle) {
	t.Helper()
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer windows.CloseHandle(ev)
	ov := windows.Overlapped{HEvent: ev | 1} // low bit: no completion packet
	switch err := windows.ConnectNamedPipe(h, &ov); err {
	case nil, windows.ERROR_PIPE_CONNECTED:
	case windows.ERROR_IO_PENDING:
		var n uint32
		if err := windows.GetOverlappedResult(h, &ov, &n, true); err != nil {
			t.Fatalf("ConnectNamedPipe: %v", err)
		}
	default:
		t.Fatalf("ConnectNamedPipe: %v", err)
	}
}

// openPipe makes a named pipe and returns its client end opened through
// r for flag, and its server end as an *os.File.
func openPipe(t testing.TB, r *aio.Ring, flag int) (*aio.File, *os.File) {
	t.Helper()
	h, name := namedPipe(t)
	af, err := r.Open(context.Background(), name, flag, 0)
	if err != nil {
		windows.CloseHandle(h)
		t.Fatal(err)
	}
	connected(t, h)
	return af, os.NewFile(uintptr(h), name)
}

// pipe returns the read end of a fresh pipe as an aio.File and the write
// end as an *os.File; both are closed at the end of the test.
func pipe(t *testing.T, r *aio.Ring) (*aio.File, *os.File) {
	t.Helper()
	af, pw := openPipe(t, r, os.O_RDONLY)
	closeAtEnd(t, af, pw)
	return af, pw
}

// aioPipe returns both ends of a fresh pipe as aio.Files: reads on the
// first, writes on the second. The write end comes from Ring.NewFile of
// an *os.File, and so runs in the backend's event mode.
func aioPipe(t *testing.T, r *aio.Ring) (rd, wr *aio.File) {
	t.Helper()
	rd, pw := openPipe(t, r, os.O_RDONLY)
	defer pw.Close()
	wr, err := r.NewFile(pw)
	if err != nil {
		rd.Close()
		t.Fatal(err)
	}
	closeAtEnd(t, rd, wr)
	return rd, wr
}

// writePipe returns the write end of a fresh pipe as an aio.File (opened
// through r) and the read end as an *os.File; both are closed at the end
// of the test.
func writePipe(t *testing.T, r *aio.Ring) (*aio.File, *os.File) {
	t.Helper()
	wr, pr := openPipe(t, r, os.O_WRONLY)
	closeAtEnd(t, wr, pr)
	return wr, pr
}

// pipeWithDrain returns the read end of a fresh pipe as an aio.File
// (Ring.NewFile of the pipe's server end, so in event mode), the server
// end itself as an *os.File (to read what is left once the aio.File is
// closed) and a synchronous client end to write to; all are closed at the
// end of the test.
func pipeWithDrain(t *testing.T, r *aio.Ring) (rd *aio.File, drain, w *os.File) {
	t.Helper()
	h, name := namedPipe(t)
	namep, _ := windows.UTF16PtrFromString(name)
	c, err := windows.CreateFile(namep, windows.GENERIC_WRITE, 0, nil, windows.OPEN_EXISTING, 0, 0)
	if err != nil {
		windows.CloseHandle(h)
		t.Fatal(err)
	}
	connected(t, h)
	srv := os.NewFile(uintptr(h), name)
	w = os.NewFile(uintptr(c), name)
	rd, err = r.NewFile(srv)
	if err != nil {
		srv.Close()
		w.Close()
		t.Fatal(err)
	}
	closeAtEnd(t, rd, srv, w)
	return rd, srv, w
}

// socketFile: a socket cannot be made an *os.File on Windows
// ((*net.TCPConn).File is not implemented).
func socketFile(t *testing.T, r *aio.Ring) (*aio.File, net.Conn, bool) {
	t.Log("a socket cannot be a File on Windows")
	return nil, nil, false
}
