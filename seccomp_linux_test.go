package aio_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio"
	"github.com/waitforit/aio/aiotest"
)

// seccompChildEnv marks the child process of TestSeccompFallback.
const seccompChildEnv = "AIO_TEST_SECCOMP_CHILD"

// TestSeccompFallback runs TestSeccompFallbackChild in a child process
// (this test binary again), where a seccomp filter makes the io_uring
// system calls fail with EPERM, as the default profiles of Docker,
// containerd and Kubernetes do. A filter cannot be removed, hence the
// child.
func TestSeccompFallback(t *testing.T) {
	if os.Getenv(seccompChildEnv) != "" {
		t.Skip("this is the child")
	}
	args := []string{"-test.run=^TestSeccompFallbackChild$", "-test.v", "-test.count=1", "-test.timeout=10m"}
	if testing.Short() {
		args = append(args, "-test.short")
	}
	cmd := exec.Command(os.Args[0], args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AIO_BACKEND=") && !strings.HasPrefix(kv, "AIO_PORTABLE_NOWAIT=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, seccompChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	output := string(out)
	if err != nil {
		t.Fatalf("child: %v\n%s", err, output)
	}
	if i := strings.Index(output, "--- SKIP: TestSeccompFallbackChild"); i >= 0 {
		t.Skipf("child skipped: %s", output[i:])
	}
	if !strings.Contains(output, "--- PASS: TestSeccompFallbackChild") {
		t.Fatalf("child did not pass:\n%s", output)
	}
	for _, line := range strings.Split(output, "\n") {
		if strings.Contains(line, "aio: backend") || strings.Contains(line, "rounds:") {
			t.Log("child:", strings.TrimSpace(line))
		}
	}
}

// TestSeccompFallbackChild is the child's half of TestSeccompFallback.
func TestSeccompFallbackChild(t *testing.T) {
	if os.Getenv(seccompChildEnv) == "" {
		t.Skip("run by TestSeccompFallback in a child process")
	}
	if err := denyIOURing(); err != nil {
		t.Skipf("cannot install a seccomp filter here: %v", err)
	}

	p := aio.Probe()
	t.Log(p)
	if p.Backend != "portable" || !errors.Is(p.Err, syscall.EPERM) {
		t.Fatalf("Probe() = %+v; want portable, with io_uring failing with EPERM", p)
	}
	if !strings.Contains(p.Reason, "seccomp") && !strings.Contains(p.Reason, "io_uring_disabled") {
		t.Errorf("Probe().Reason = %q does not name the seccomp filter", p.Reason)
	}
	r, err := aio.New(aio.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Backend() != "portable" {
		t.Errorf("New(Config{}) picked %q under the filter", r.Backend())
	}
	r.Close()
	if _, err := aio.New(aio.Config{Backend: "uring"}); !errors.Is(err, syscall.EPERM) {
		t.Errorf("New(uring) under the filter = %v, want an error matching EPERM", err)
	}

	aiotest.Run(t, func(tb testing.TB, cfg aio.Config) *aio.Ring {
		r, err := aio.New(cfg) // cfg.Backend is "": the automatic choice
		if err != nil {
			tb.Fatal(err)
		}
		if r.Backend() != "portable" {
			tb.Fatalf("automatic backend %q under the filter", r.Backend())
		}
		return r
	})
}

// auditArch is the seccomp_data.arch value of this process's native
// system call ABI.
var auditArch = map[string]uint32{
	"amd64": unix.AUDIT_ARCH_X86_64,
	"arm64": unix.AUDIT_ARCH_AARCH64,
}

// denyIOURing installs, on every thread of the process, a seccomp filter
// that fails io_uring_setup, io_uring_enter and io_uring_register with
// EPERM and allows everything else.
//
// The filter checks the ABI (seccomp_data.arch) on amd64 and arm64 and
// lets other ABIs through: their system call numbers differ, and this
// process makes only native calls. On other architectures it skips that
// check on purpose, which is enough for a test.
func denyIOURing() error {
	const (
		ldAbsW  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeqK    = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		retK    = unix.BPF_RET | unix.BPF_K
		offNr   = 0 // offsetof(struct seccomp_data, nr)
		offArch = 4 // offsetof(struct seccomp_data, arch)
	)
	var prog []unix.SockFilter
	if arch, ok := auditArch[runtime.GOARCH]; ok {
		prog = append(prog,
			unix.SockFilter{Code: ldAbsW, K: offArch},
			unix.SockFilter{Code: jeqK, K: arch, Jt: 1}, // native: judge the call
			unix.SockFilter{Code: retK, K: unix.SECCOMP_RET_ALLOW},
		)
	}
	prog = append(prog,
		unix.SockFilter{Code: ldAbsW, K: offNr},
		unix.SockFilter{Code: jeqK, K: unix.SYS_IO_URING_SETUP, Jt: 3},
		unix.SockFilter{Code: jeqK, K: unix.SYS_IO_URING_ENTER, Jt: 2},
		unix.SockFilter{Code: jeqK, K: unix.SYS_IO_URING_REGISTER, Jt: 1},
		unix.SockFilter{Code: retK, K: unix.SECCOMP_RET_ALLOW},
		unix.SockFilter{Code: retK, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
	)
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}

	// no_new_privs is per thread and the kernel checks the calling
	// thread's, so set it and install the filter from the same thread.
	// TSYNC then applies both to every other thread of the process: Go
	// runs goroutines on many threads, and prctl(PR_SET_SECCOMP) would
	// filter only this one.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	tid, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return fmt.Errorf("seccomp(SET_MODE_FILTER, TSYNC): %w", errno)
	}
	if tid != 0 {
		return fmt.Errorf("seccomp(SET_MODE_FILTER, TSYNC): thread %d could not be synchronised", tid)
	}
	return nil
}
