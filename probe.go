package aio

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/waitforit/aio/internal/backend/portable"
	"github.com/waitforit/aio/internal/core"
)

// ProbeResult says which backend New picks when none is named, and why
// io_uring was passed over. Its String method makes a log line:
//
//	aio: backend portable: io_uring not used: io_uring_setup: EPERM: denied by a seccomp filter (...)
type ProbeResult struct {
	// Backend is the backend New(Config{}) uses when AIO_BACKEND is not
	// set: "uring", "portable", "iocp" (always, on Windows), or "" if no
	// backend works on this system.
	Backend string
	// Err is nil when io_uring is usable. Otherwise it says why not and
	// matches the kernel's errno (syscall.ENOSYS, syscall.EPERM, ...) or
	// errors.ErrUnsupported (no io_uring on this OS, or opcodes missing).
	Err error
	// Reason is Err in a sentence, with its likely cause: ENOSYS (no
	// io_uring in this kernel), EPERM from a seccomp filter or from the
	// sysctl kernel.io_uring_disabled, missing opcodes, ...
	Reason string
	// Missing names the io_uring opcodes the library needs and the kernel
	// lacks, when that is the reason.
	Missing []string
	// Routes says how the backend in Backend does each file system
	// operation: through the ring with an io_uring opcode the kernel has,
	// or on worker threads (io_uring has no getdents, readlink or lseek;
	// older kernels lack some opcodes; the portable backend uses workers
	// for all); on Windows, the calls the iocp backend makes and whether
	// they block a goroutine of their own. Ring.Routes says the same for
	// one Ring.
	Routes []Route
	// Limits names, in a sentence each, promises the chosen backend keeps
	// only in part on this system (see "Descriptors aio did not create" in
	// the package doc); empty where it keeps them all.
	Limits []string
}

// Route is how a backend does one kind of operation.
type Route struct {
	Op      string // the operation, by its Unix system call: "statx", "mkdirat", "getdents", ...
	Methods string // the methods that use it
	Via     string // "IORING_OP_STATX", or "worker threads" and why; on Windows, the calls and how they run
}

// fsRoutes are the file system operations Probe and Ring.Routes report,
// with the methods that use each.
var fsRoutes = []struct {
	kind    core.Kind
	op      string
	methods string
}{
	{core.KindStat, "statx", "Ring.Stat, Ring.Lstat, File.Stat"},
	{core.KindFsync, "fsync, fdatasync", "File.Sync, File.SyncData"},
	{core.KindFtruncate, "ftruncate", "File.Truncate"},
	{core.KindFallocate, "fallocate", "File.Allocate"},
	{core.KindFadvise, "fadvise", "File.Advise"},
	{core.KindSeek, "lseek", "File.Seek"},
	{core.KindReadDir, "getdents", "File.ReadDir, Ring.ReadDir, DirFS"},
	{core.KindOpenAt, "openat", "Ring.RemoveAll, DirFS (without openat2)"},
	{core.KindOpenat2, "openat2", "DirFS"},
	{core.KindMkdir, "mkdirat", "Ring.Mkdir, Ring.MkdirAll"},
	{core.KindRename, "renameat", "Ring.Rename"},
	{core.KindUnlink, "unlinkat", "Ring.Remove, Ring.RemoveAll"},
	{core.KindLink, "linkat", "Ring.Link"},
	{core.KindSymlink, "symlinkat", "Ring.Symlink"},
	{core.KindReadlink, "readlinkat", "Ring.Readlink, DirFS"},
}

// routes lists how driver d does each file system operation.
func routes(d core.Driver) []Route {
	out := make([]Route, 0, len(fsRoutes))
	for _, fr := range fsRoutes {
		via := "worker threads"
		if ok, op := d.Supported(fr.kind); !ok {
			via = "unsupported: " + op
		} else if rt, ok := d.(interface{ Route(core.Kind) string }); ok {
			via = rt.Route(fr.kind)
		}
		out = append(out, Route{Op: fr.op, Methods: fr.methods, Via: via})
	}
	return out
}

// Routes says how r's backend does each file system operation (see
// ProbeResult.Routes).
func (r *Ring) Routes() []Route { return routes(r.driver) }

// String describes the result in one line, for logs.
func (p ProbeResult) String() string {
	backend := p.Backend
	if backend == "" {
		backend = "none available"
	}
	if p.Err == nil {
		return "aio: backend " + backend
	}
	return "aio: backend " + backend + ": io_uring not used: " + p.Reason
}

var probeOnce = sync.OnceValue(probe)

// Probe reports which backend New(Config{}) picks on this system and, when
// it is not io_uring, why. It tries io_uring once (a small ring, set up and
// closed) and caches the answer for the life of the process. It ignores
// AIO_BACKEND; Ring.Backend says what a Ring actually uses.
func Probe() ProbeResult { return probeOnce() }

func probe() ProbeResult {
	p := ProbeResult{Backend: "uring"}
	p.Reason, p.Missing, p.Routes, p.Err = probeURing()
	switch {
	case defaultBackend() != "":
		p.Backend = defaultBackend() // Windows: completion ports, whatever the probe says
		if d, err := newIOCP(Config{Entries: 8}, core.NewTable()); err == nil {
			p.Routes = routes(d)
			d.Close()
		}
	case p.Err != nil:
		p.Backend = ""
		if portable.Available() == nil {
			p.Backend = "portable"
			if d, err := portable.New(core.NewTable(), portable.Options{}); err == nil {
				p.Routes = routes(d)
				d.Close()
			}
		}
	}
	p.Limits = systemLimits(p.Backend)
	return p
}

// neededKinds are the operations the library submits: an io_uring that
// lacks one (a kernel before 5.11 has no SHUTDOWN, say) is passed over, so
// that every File and Conn method works on the backend chosen.
var neededKinds = []core.Kind{
	core.KindNop, core.KindRead, core.KindWrite, core.KindFsync, core.KindOpen, core.KindClose,
	core.KindAccept, core.KindConnect, core.KindRecv, core.KindSend, core.KindShutdown,
}

func probeURing() (reason string, missing []string, rts []Route, err error) {
	d, err := newURing(Config{Entries: 8}, core.NewTable())
	if err != nil {
		return explainURingError(err), nil, nil, err
	}
	defer d.Close()
	for _, k := range neededKinds {
		if ok, op := d.Supported(k); !ok {
			missing = append(missing, op)
		}
	}
	if len(missing) > 0 {
		list := strings.Join(missing, ", ")
		return "the kernel's io_uring lacks " + list, missing, nil, &UnsupportedError{Backend: "uring", Op: list}
	}
	return "", nil, routes(d), nil
}

// explainURingError says why setting up io_uring failed, with what the
// system tells about the likely cause.
func explainURingError(err error) string {
	filtered := seccompFiltered()
	switch {
	case errors.Is(err, syscall.ENOSYS):
		s := "io_uring_setup: ENOSYS: the kernel has no io_uring (older than 5.1, built without CONFIG_IO_URING, or a sandbox such as gVisor)"
		if filtered {
			s += ", or the seccomp filter on this process hides it"
		}
		return s
	case errors.Is(err, syscall.EPERM):
		switch sysctlIOURingDisabled() {
		case "2":
			return "io_uring_setup: EPERM: disabled by sysctl kernel.io_uring_disabled=2"
		case "1":
			return "io_uring_setup: EPERM: restricted by sysctl kernel.io_uring_disabled=1 to privileged processes and members of kernel.io_uring_group"
		}
		if filtered {
			return "io_uring_setup: EPERM: denied by a seccomp filter (the default profiles of Docker, containerd and Kubernetes deny io_uring)"
		}
		return "io_uring_setup: EPERM: permission denied (neither a seccomp filter nor kernel.io_uring_disabled; a security module may deny it)"
	case errors.Is(err, errors.ErrUnsupported):
		return err.Error()
	}
	return "io_uring could not be set up: " + err.Error()
}

// sysctlIOURingDisabled returns kernel.io_uring_disabled ("0", "1", "2"),
// or "" where there is no such setting (before Linux 6.6, other systems).
func sysctlIOURingDisabled() string {
	b, err := os.ReadFile("/proc/sys/kernel/io_uring_disabled")
	if err != nil {
		return ""
	}
	return string(bytes.TrimSpace(b))
}

// seccompFiltered reports whether a seccomp filter is installed on this
// process ("Seccomp: 2" in /proc/self/status, Linux).
func seccompFiltered() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("Seccomp:")); ok {
			return string(bytes.TrimSpace(v)) == "2"
		}
	}
	return false
}
