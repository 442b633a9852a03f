package uring

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestPrepPathOps runs each file system opcode's SQE on the kernel and
// checks its effect with plain system calls: the layouts of the Prep
// functions are the kernel's, not only the header's. An opcode this
// kernel lacks is reported (and skipped) by name.
func TestPrepPathOps(t *testing.T) {
	r := setup(t, 8)
	probe, err := r.Probe()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cpath := func(name string) *byte {
		b := append([]byte(filepath.Join(dir, name)), 0)
		return &b[0]
	}
	do := func(op uint8, prep func(*SQE)) (int32, bool) {
		t.Helper()
		if !probe.Supported(op) {
			t.Logf("%s: not supported by this kernel", OpName(op))
			return 0, false
		}
		sqe := r.GetSQE()
		prep(sqe)
		sqe.UserData = 7
		return run(t, r, 7)[7], true
	}
	exists := func(name string) bool {
		_, err := os.Lstat(filepath.Join(dir, name))
		return err == nil
	}

	if res, ok := do(OpMkdirat, func(e *SQE) { e.PrepMkdirat(unix.AT_FDCWD, cpath("d"), 0o750) }); ok {
		fi, err := os.Stat(filepath.Join(dir, "d"))
		if res != 0 || err != nil || !fi.IsDir() || fi.Mode().Perm()&^0o750 != 0 {
			t.Errorf("MKDIRAT = %d; stat %v %v", res, fi, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	if res, ok := do(OpRenameat, func(e *SQE) {
		e.PrepRenameat(unix.AT_FDCWD, cpath("f"), unix.AT_FDCWD, cpath("g"), 0)
	}); ok && (res != 0 || exists("f") || !exists("g")) {
		t.Errorf("RENAMEAT = %d; f exists %v, g exists %v", res, exists("f"), exists("g"))
	}
	if res, ok := do(OpRenameat, func(e *SQE) {
		e.PrepRenameat(unix.AT_FDCWD, cpath("g"), unix.AT_FDCWD, cpath("d"), unix.RENAME_NOREPLACE)
	}); ok && res != -int32(unix.EEXIST) {
		t.Errorf("RENAMEAT(RENAME_NOREPLACE) onto an existing name = %d, want -EEXIST (flags not passed)", res)
	}
	if res, ok := do(OpLinkat, func(e *SQE) {
		e.PrepLinkat(unix.AT_FDCWD, cpath("g"), unix.AT_FDCWD, cpath("h"), 0)
	}); ok {
		var st unix.Stat_t
		if res != 0 || unix.Stat(filepath.Join(dir, "h"), &st) != nil || st.Nlink != 2 {
			t.Errorf("LINKAT = %d; nlink %d", res, st.Nlink)
		}
	}
	if res, ok := do(OpSymlinkat, func(e *SQE) {
		target := append([]byte("g"), 0)
		e.PrepSymlinkat(&target[0], unix.AT_FDCWD, cpath("s"))
		runtime.KeepAlive(target) // run submits before returning
	}); ok {
		got, err := os.Readlink(filepath.Join(dir, "s"))
		if res != 0 || err != nil || got != "g" {
			t.Errorf("SYMLINKAT = %d; readlink %q %v", res, got, err)
		}
	}
	if res, ok := do(OpUnlinkat, func(e *SQE) { e.PrepUnlinkat(unix.AT_FDCWD, cpath("d"), 0) }); ok && res != -int32(unix.EISDIR) {
		t.Errorf("UNLINKAT of a directory without AT_REMOVEDIR = %d, want -EISDIR", res)
	}
	if res, ok := do(OpUnlinkat, func(e *SQE) { e.PrepUnlinkat(unix.AT_FDCWD, cpath("d"), unix.AT_REMOVEDIR) }); ok && (res != 0 || exists("d")) {
		t.Errorf("UNLINKAT(AT_REMOVEDIR) = %d; d exists %v", res, exists("d"))
	}

	f, err := os.OpenFile(filepath.Join(dir, "g"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int32(f.Fd())
	size := func() int64 {
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if res, ok := do(OpFtruncate, func(e *SQE) { e.PrepFtruncate(fd, 3) }); ok && (res != 0 || size() != 3) {
		t.Errorf("FTRUNCATE(3) = %d; size %d", res, size())
	}
	if res, ok := do(OpFallocate, func(e *SQE) { e.PrepFallocate(fd, 0, 4096, 8192) }); ok && (res != 0 || size() != 12288) {
		t.Errorf("FALLOCATE(0, 4096, 8192) = %d; size %d, want 12288", res, size())
	}
	if res, ok := do(OpFallocate, func(e *SQE) { e.PrepFallocate(fd, unix.FALLOC_FL_KEEP_SIZE, 0, 1<<20) }); ok && (res != 0 || size() != 12288) {
		t.Errorf("FALLOCATE(KEEP_SIZE, 0, 1 MiB) = %d; size %d, want 12288", res, size())
	}
	if res, ok := do(OpFadvise, func(e *SQE) { e.PrepFadvise(fd, 0, 4096, unix.FADV_WILLNEED) }); ok && res != 0 {
		t.Errorf("FADVISE(WILLNEED) = %d", res)
	}
	if res, ok := do(OpFadvise, func(e *SQE) { e.PrepFadvise(fd, 0, 0, 1000) }); ok && res != -int32(unix.EINVAL) {
		t.Errorf("FADVISE with a bad advice = %d, want -EINVAL (advice not passed)", res)
	}

	var stx unix.Statx_t
	empty := []byte{0}
	if res, ok := do(OpStatx, func(e *SQE) {
		e.PrepStatx(fd, &empty[0], unix.AT_EMPTY_PATH, unix.STATX_BASIC_STATS, unsafe.Pointer(&stx))
	}); ok && (res != 0 || stx.Size != 12288 || stx.Mode&unix.S_IFMT != unix.S_IFREG) {
		t.Errorf("STATX(fd) = %d; size %d mode %#o", res, stx.Size, stx.Mode)
	}

	how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH}
	dirfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dirfd)
	rel := append([]byte("g"), 0)
	if res, ok := do(OpOpenat2, func(e *SQE) {
		e.PrepOpenat2(int32(dirfd), &rel[0], unsafe.Pointer(&how), uint32(unsafe.Sizeof(how)))
	}); ok {
		if res < 0 {
			t.Errorf("OPENAT2(RESOLVE_BENEATH, g) = %d", res)
		} else {
			unix.Close(int(res))
		}
	}
	up := append([]byte("../x"), 0)
	if res, ok := do(OpOpenat2, func(e *SQE) {
		e.PrepOpenat2(int32(dirfd), &up[0], unsafe.Pointer(&how), uint32(unsafe.Sizeof(how)))
	}); ok && res != -int32(unix.EXDEV) {
		t.Errorf("OPENAT2(RESOLVE_BENEATH, ../x) = %d, want -EXDEV (open_how not passed)", res)
	}
	runtime.KeepAlive(&how)
	runtime.KeepAlive(&stx)
}
