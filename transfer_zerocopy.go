//go:build linux || windows

package aio

import (
	"io"
	"os"
	"reflect"
	"sync"
)

// What the zero-copy transfers of Linux (transfer_linux.go) and Windows
// (transfer_windows.go) share: how a source is seen through its
// wrappers, and how a Close aborts a transfer.

// source is a transfer's source as the zero-copy mechanisms see it: the
// reader under an *io.LimitedReader or an *io.SectionReader (and under
// net/http's file wrapper), and how many bytes it may give.
type source struct {
	r     io.Reader // the reader itself (an io.ReaderAt for a section)
	limit int64     // at most this many bytes; -1: until io.EOF
	lr    *io.LimitedReader
	sr    *io.SectionReader
	off   int64 // a section's absolute offset in its io.ReaderAt; -1: r's own position
}

// unwrapSource looks through the wrappers a file server or a proxy puts
// around a file or a connection. It never reads anything.
func unwrapSource(r io.Reader) source {
	s := source{r: r, limit: -1, off: -1}
	if lr, ok := r.(*io.LimitedReader); ok {
		s.lr, s.r, s.limit = lr, lr.R, max(lr.N, 0)
	}
	if sr, ok := s.r.(*io.SectionReader); ok {
		outer, base, n := sr.Outer()
		pos, err := sr.Seek(0, io.SeekCurrent) // never fails: a section's position is its own
		if err == nil && pos <= n {
			s.sr, s.r, s.off = sr, readerAtAsReader{outer}, base+pos
			if s.limit < 0 || s.limit > n-pos {
				s.limit = n - pos
			}
		}
	}
	s.r = seeThroughHTTPFile(s.r)
	return s
}

// readerAtAsReader marks an io.ReaderAt found under an io.SectionReader:
// the mechanisms read it at the section's offset, never at its position.
type readerAtAsReader struct{ io.ReaderAt }

func (readerAtAsReader) Read([]byte) (int, error) {
	panic("aio: inconsistent transfer: read of a section's io.ReaderAt")
}

// consumed tells the wrappers that n bytes were read from the source, so
// that a LimitedReader's N and a SectionReader's position agree with what
// the transfer took.
func (s *source) consumed(n int64) {
	if s.lr != nil {
		s.lr.N -= n
	}
	if s.sr != nil {
		_, base, _ := s.sr.Outer()
		s.sr.Seek(s.off-base+n, io.SeekStart)
	}
}

// httpFileType is how net/http's FileServerFS wraps every file it
// serves, an unexported ioFile{file fs.File} forwarding Read and Seek
// only: it hides the file's zero-copy path from the connection (which is
// also why net/http's own FileServerFS(os.DirFS(dir)) does not sendfile;
// http.FileServer(http.Dir(dir)) does). seeThroughHTTPFile looks inside
// it, by reflection, for a file this package knows (a DirFS file, an
// *os.File) and unwraps nothing else.
func seeThroughHTTPFile(r io.Reader) io.Reader {
	if r == nil {
		return r
	}
	v := reflect.ValueOf(r)
	t := v.Type()
	if t.Kind() != reflect.Struct || t.Name() != "ioFile" || t.PkgPath() != "net/http" || t.NumField() != 1 {
		return r
	}
	inner := v.Field(0)
	if inner.Kind() != reflect.Interface || inner.IsNil() {
		return r
	}
	inner = inner.Elem()
	switch inner.Type() {
	case dirFileType:
		return (*dirFile)(inner.UnsafePointer())
	case osFileType:
		return (*os.File)(inner.UnsafePointer())
	}
	return r
}

var (
	dirFileType = reflect.TypeFor[*dirFile]()
	osFileType  = reflect.TypeFor[*os.File]()
)

// xferHooks are the transfers in flight on a File: its Close aborts
// them (a transfer may wait on its other side, which this File's own
// netpoller kick does not reach).
type xferHooks struct {
	mu      sync.Mutex
	closing bool
	aborts  []aborter
	first   [1]aborter // aborts' room for one: the usual case costs no allocation
}

// aborter is a transfer in flight that a Close of one of its sides
// stops (its abort must not block).
type aborter interface{ abort() }

// close aborts every transfer registered, and those registered later.
func (h *xferHooks) close() {
	h.mu.Lock()
	h.closing = true
	aborts := h.aborts
	h.aborts = nil
	h.mu.Unlock()
	for _, a := range aborts {
		a.abort()
	}
}

// add registers a until remove; if Close has begun it aborts a at once.
// Neither allocates while the File has one transfer at a time.
func (h *xferHooks) add(a aborter) {
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		a.abort()
		return
	}
	if h.aborts == nil {
		h.aborts = h.first[:0]
	}
	h.aborts = append(h.aborts, a)
	h.mu.Unlock()
}

// remove forgets a, registered by add.
func (h *xferHooks) remove(a aborter) {
	h.mu.Lock()
	for i, b := range h.aborts {
		if b == a {
			last := len(h.aborts) - 1
			h.aborts[i], h.aborts[last] = h.aborts[last], nil
			h.aborts = h.aborts[:last]
			break
		}
	}
	h.mu.Unlock()
}
