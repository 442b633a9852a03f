package iocp

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"unicode/utf16"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/waitforit/aio/internal/core"
)

// wine reports whether the test runs under Wine (its ntdll has
// wine_get_version), to name a gap of Wine's as such.
func wine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

// reparseBuffer builds what FSCTL_GET_REPARSE_POINT returns for a link:
// the header, then substitute and print names (UTF-16) after the fixed
// part of the tag's buffer.
func reparseBuffer(tag uint32, flags uint32, substitute, print string) []byte {
	sub, prn := utf16.Encode([]rune(substitute)), utf16.Encode([]rune(print))
	fixed := int(unsafe.Sizeof(reparseDataBuffer{}))
	if tag == reparseTagMountPoint {
		fixed = int(unsafe.Offsetof(reparseDataBuffer{}.Flags))
	}
	b := make([]byte, fixed+2*(len(sub)+len(prn)))
	h := (*reparseDataBuffer)(unsafe.Pointer(&b[0]))
	h.ReparseTag = tag
	h.ReparseDataLength = uint16(len(b) - 8)
	h.SubstituteNameOffset, h.SubstituteNameLength = 0, uint16(2*len(sub))
	h.PrintNameOffset, h.PrintNameLength = uint16(2*len(sub)), uint16(2*len(prn))
	if tag != reparseTagMountPoint {
		h.Flags = flags
	}
	names := unsafe.Slice((*uint16)(unsafe.Pointer(&b[fixed])), len(sub)+len(prn))
	copy(names, sub)
	copy(names[len(sub):], prn)
	return b
}

// TestParseReparseLink: Readlink's parsing of reparse data, as os's
// (Wine makes no symbolic links, so this is where the parsing is
// checked): a relative link's target as stored, an absolute one's NT
// name turned back into a Win32 path, a junction's too, anything else
// not a link.
func TestParseReparseLink(t *testing.T) {
	for _, c := range []struct {
		what string
		buf  []byte
		want string
		err  error
	}{
		{"relative", reparseBuffer(windows.IO_REPARSE_TAG_SYMLINK, symlinkFlagRelative, `..\dir\file`, `..\dir\file`), `..\dir\file`, nil},
		{"absolute", reparseBuffer(windows.IO_REPARSE_TAG_SYMLINK, 0, `\??\C:\Users\x`, `C:\Users\x`), `C:\Users\x`, nil},
		{"UNC", reparseBuffer(windows.IO_REPARSE_TAG_SYMLINK, 0, `\??\UNC\server\share\x`, `\\server\share\x`), `\\server\share\x`, nil},
		{"volume", reparseBuffer(windows.IO_REPARSE_TAG_SYMLINK, 0, `\??\Volume{1234}\x`, ``), `\\?\Volume{1234}\x`, nil},
		{"junction", reparseBuffer(reparseTagMountPoint, 0, `\??\D:\target`, `D:\target`), `D:\target`, nil},
		{"dedup", reparseBuffer(ReparseTagDedup, 0, `x`, `x`), "", syscall.ENOENT},
		{"short", []byte{1, 2, 3}, "", syscall.ENOENT},
	} {
		got, err := parseReparseLink(c.buf)
		if got != c.want || err != c.err {
			t.Errorf("%s: %q, %v; want %q, %v", c.what, got, err, c.want, c.err)
		}
	}
}

// dirRecord builds one FILE_FULL_DIR_INFO record.
func dirRecord(next uint32, attrs, eaSize uint32, size int64, name string) []byte {
	u := utf16.Encode([]rune(name))
	b := make([]byte, (dirInfoHeader+2*len(u)+7)&^7)
	di := (*DirInfo)(unsafe.Pointer(&b[0]))
	di.NextEntryOffset, di.FileAttributes, di.EaSize, di.EndOfFile = next, attrs, eaSize, size
	di.FileNameLength = uint32(2 * len(u))
	di.LastWriteTime = windows.Filetime{LowDateTime: 7, HighDateTime: 8}
	copy(unsafe.Slice((*uint16)(unsafe.Pointer(&b[dirInfoHeader])), len(u)), u)
	return b
}

func TestParseDirInfo(t *testing.T) {
	first := dirRecord(0, windows.FILE_ATTRIBUTE_DIRECTORY, 0, 0, "dir")
	binary := append(dirRecord(uint32(len(first)), windows.FILE_ATTRIBUTE_DIRECTORY, 0, 0, "dir"),
		dirRecord(0, windows.FILE_ATTRIBUTE_REPARSE_POINT, windows.IO_REPARSE_TAG_SYMLINK, 1<<33+5, "link ünïcode")...)
	reclen, name, st, ok := ParseDirInfo(binary)
	if !ok || reclen != len(first) || name != "dir" || st.FileAttributes != windows.FILE_ATTRIBUTE_DIRECTORY || st.ReparseTag != 0 {
		t.Errorf("first record: %d %q %+v %v", reclen, name, st, ok)
	}
	rest := binary[reclen:]
	reclen, name, st, ok = ParseDirInfo(rest)
	if !ok || reclen != len(rest) || name != "link ünïcode" || st.ReparseTag != windows.IO_REPARSE_TAG_SYMLINK ||
		st.FileSizeHigh != 2 || st.FileSizeLow != 5 || st.LastWriteTime.LowDateTime != 7 || !st.IsNameSurrogate() {
		t.Errorf("last record: %d %q %+v %v", reclen, name, st, ok)
	}
	if _, _, _, ok := ParseDirInfo(rest[:dirInfoHeader+3]); ok {
		t.Error("a record cut short parsed")
	}
}

// TestAllocate: fallocate's modes as Windows does them, on a file of
// 1000 bytes: mode 0 reserves and extends, KEEP_SIZE reserves only,
// PUNCH_HOLE|KEEP_SIZE zeroes within the file, other modes and
// read-only handles are refused.
func TestAllocate(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	data := bytes.Repeat([]byte("0123456789"), 100)
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := windows.Handle(f.Fd())
	size := func() int64 {
		t.Helper()
		si, err := standardInfo(h)
		if err != nil {
			t.Fatal(err)
		}
		return si.EndOfFile
	}
	if err := Allocate(h, 0, 500, 8000); err != nil || size() != 8500 {
		t.Errorf("mode 0: %v, size %d; want 8500", err, size())
	}
	if err := Allocate(h, 0, 0, 10); err != nil || size() != 8500 {
		t.Errorf("mode 0 within the file: %v, size %d; want 8500", err, size())
	}
	t.Run("KeepSize", func(t *testing.T) {
		err := Allocate(h, fallocKeepSize, 0, 1<<20)
		if wine() && err == windows.ERROR_CALL_NOT_IMPLEMENTED {
			t.Skipf("Wine lacks FileAllocationInformation (SetFileInformationByHandle: %v); aio reports it as unsupported", err)
		}
		if err != nil || size() != 8500 {
			t.Errorf("KEEP_SIZE: %v, size %d; want the size kept", err, size())
		}
		if si, _ := standardInfo(h); si.AllocationSize < 1<<20 {
			t.Errorf("KEEP_SIZE: allocation %d, want at least %d", si.AllocationSize, 1<<20)
		}
	})
	t.Run("PunchHole", func(t *testing.T) {
		err := Allocate(h, fallocPunchHole|fallocKeepSize, 100, 50000)
		if wine() && err == windows.ERROR_NOT_SUPPORTED {
			t.Skipf("Wine lacks FSCTL_SET_ZERO_DATA (%v); aio reports it as unsupported", err)
		}
		if err != nil || size() != 8500 {
			t.Fatalf("PUNCH_HOLE: %v, size %d; want 8500", err, size())
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		want := append(data[:100:100], make([]byte, 8400)...)
		if !bytes.Equal(got, want) {
			t.Errorf("after PUNCH_HOLE at 100: %q..., want the data up to 100 and zeros after", got[:120])
		}
	})
	if err := Allocate(h, fallocPunchHole, 0, 10); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("PUNCH_HOLE without KEEP_SIZE: %v, want EOPNOTSUPP", err)
	}
	if err := Allocate(h, 0, -1, 10); err != windows.ERROR_INVALID_PARAMETER {
		t.Errorf("at -1: %v", err)
	}
	ro, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := Allocate(windows.Handle(ro.Fd()), 0, 0, 10); err != windows.ERROR_ACCESS_DENIED {
		t.Errorf("read-only: %v, want ERROR_ACCESS_DENIED", err)
	}
}

// TestSeekAndReadDirThroughDriver: Seek keeps the driver's position
// (what reads at the position use) and says what os's overlapped files
// say for what it refuses; ReadDir restarts after a Seek.
func TestSeekAndReadDirThroughDriver(t *testing.T) {
	tb, d := newDriver(t)
	dir := t.TempDir()
	for _, n := range []string{"a", "b", "c"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("0123456789"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	open := func(name string) (windows.Handle, any) {
		t.Helper()
		n, err := d.open(append([]byte(name), 0), os.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		h := windows.Handle(n)
		t.Cleanup(func() { windows.CloseHandle(h) })
		f, err := d.Attach(int(h))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Detach(int(h), f) })
		return h, f
	}
	seek := func(h windows.Handle, f any, off int64, whence int) (int64, int32) {
		t.Helper()
		r := tb.Get()
		r.Kind, r.FD, r.Handle, r.Off, r.Flags = core.KindSeek, int(h), f, off, whence
		if err := tb.Submit(r); err != nil {
			t.Fatal(err)
		}
		<-r.Wake
		pos, res := r.Off, r.Res
		tb.Put(r)
		return pos, res
	}
	h, f := open(filepath.Join(dir, "a"))
	if pos, res := seek(h, f, -3, 2); res != 0 || pos != 7 {
		t.Errorf("Seek(-3, end) = %d, %d; want 7", pos, res)
	}
	buf := make([]byte, 10)
	rd := tb.Get()
	rd.Kind, rd.FD, rd.Handle, rd.Buf, rd.Off = core.KindRead, int(h), f, buf, -1
	if err := tb.Submit(rd); err != nil {
		t.Fatal(err)
	}
	if res := wait(tb, rd); res != 3 || string(buf[:3]) != "789" {
		t.Errorf("read at the position after Seek(-3, end): %d %q, want 789", res, buf[:res])
	}
	if _, res := seek(h, f, -20, 1); res != -int32(windows.ERROR_NEGATIVE_SEEK) {
		t.Errorf("Seek before the start: %d, want ERROR_NEGATIVE_SEEK", res)
	}
	if _, res := seek(h, f, 0, 3); res != -int32(windows.ERROR_INVALID_PARAMETER) {
		t.Errorf("Seek with whence 3: %d, want ERROR_INVALID_PARAMETER", res)
	}

	dh, df := open(dir)
	names := func() []string {
		t.Helper()
		var out []string
		buf := make([]byte, 8192)
		for {
			r := tb.Get()
			r.Kind, r.FD, r.Handle, r.Buf = core.KindReadDir, int(dh), df, buf
			if err := tb.Submit(r); err != nil {
				t.Fatal(err)
			}
			res := wait(tb, r)
			if res < 0 {
				t.Fatalf("readdir: %d", res)
			}
			if res == 0 {
				return out
			}
			for b := buf[:res]; len(b) > 0; {
				n, name, _, ok := ParseDirInfo(b)
				if !ok {
					t.Fatalf("bad record in %d bytes", res)
				}
				if name != "." && name != ".." {
					out = append(out, name)
				}
				b = b[n:]
			}
		}
	}
	if got := names(); len(got) != 3 {
		t.Errorf("ReadDir: %q, want a, b, c", got)
	}
	if got := names(); len(got) != 0 {
		t.Errorf("ReadDir again: %q, want nothing more", got)
	}
	seek(dh, df, 0, 0)
	if got := names(); len(got) != 3 {
		t.Errorf("ReadDir after Seek: %q, want a, b, c again", got)
	}
	p, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	defer w.Close()
	ph := dup(t, p)
	pf, err := d.Attach(int(ph))
	if err != nil {
		t.Fatal(err)
	}
	if _, res := seek(ph, pf, 0, 1); res != -int32(syscall.ESPIPE) {
		t.Errorf("Seek on a pipe: %d, want ESPIPE", res)
	}
}

// TestOpenErrors: Open's errors as the contract and os want them: a
// missing directory on the way is ENOENT for Open (as open(2)), and
// stays os's ERROR_PATH_NOT_FOUND with ODirectory (os.ReadDir's open),
// where a file is ENOTDIR; a directory opened to write is EISDIR, as in
// syscall.Open.
func TestOpenErrors(t *testing.T) {
	_, d := newDriver(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		flag int
		want error
	}{
		{filepath.Join(dir, "missing", "x"), os.O_RDONLY, syscall.ENOENT},
		{filepath.Join(dir, "missing", "x"), os.O_RDONLY | ODirectory, windows.ERROR_PATH_NOT_FOUND},
		{filepath.Join(dir, "missing"), os.O_RDONLY | ODirectory, windows.ERROR_FILE_NOT_FOUND},
		{file, os.O_RDONLY | ODirectory, syscall.ENOTDIR},
		{dir, os.O_RDWR, syscall.EISDIR},
		{dir, os.O_RDONLY | ODirectory, nil},
		{file, os.O_RDONLY | ONofollow, nil},
	} {
		n, err := d.openPath(append([]byte(c.name), 0), c.flag, 0)
		if err == nil {
			windows.CloseHandle(windows.Handle(n))
		}
		if err != c.want {
			t.Errorf("open %s with %#x: %v, want %v", c.name, c.flag, err, c.want)
		}
	}
}
