// Command directgo is direct.c's floor again, in Go: aiobench's direct-32
// (O_DIRECT 4 KiB random reads, 32 in flight, from one goroutine) in its
// two shapes, with aio's ABI package and nothing else of aio's (no
// records, no table, no Ops, no Batch). It reads into registered buffers
// from a registered file, as aio's BufferPool and fio's --fixedbufs
// --registerfiles do (direct.c does neither). It tells what Go's
// scheduler costs each shape, apart from what aio's own code costs:
//
//	single  the application goroutine, locked to its thread, enters the
//	        ring itself: it submits what it has and waits in
//	        io_uring_enter for a completion (fio's io_uring job; a
//	        library cannot do this, as a locked thread that exits takes
//	        its requests with it: issue #11).
//	owner   aio's shape: a locked owner goroutine is the ring's only
//	        issuer (SINGLE_ISSUER|DEFER_TASKRUN, TASKRUN_FLAG, the ring
//	        made on its thread) and sleeps in a blocking read of the
//	        ring's eventfd; the application goroutine publishes SQEs,
//	        pokes the owner through that eventfd when it sleeps, and
//	        waits for its completions on a channel the owner feeds.
//	inline  (cached only) aio's path for cached reads started through a
//	        Batch: the application goroutine enters a plain ring (no
//	        SINGLE_ISSUER, as any goroutine may, under a mutex) with 16
//	        reads flagged RWF_NOWAIT, from the file's descriptor into
//	        ordinary buffers, and waits in the same io_uring_enter for
//	        all 16 completions, so nothing stays in flight on a thread
//	        that may exit (rule 3).
//	os      (cached only) aiobench's std for op-32: 32 goroutines, each
//	        os.File.ReadAt of 4 KiB into a buffer of its own, with no
//	        clock read or histogram per read (aiobench makes both, for
//	        every implementation). inline against os is the floor of
//	        op-32's "x std cpu" with no harness on either side.
//	pread   (cached only) the portable backend's shape for op-32, with
//	        nothing of aio's: one goroutine reads at random, one
//	        preadv2(RWF_NOWAIT) after another, into 32 buffers in turn
//	        (without io_uring a system call per read is the least).
//	linuxaio (cached only) the same without io_uring, batched: Linux
//	        AIO, one io_submit of 16 reads flagged RWF_NOWAIT (ext4 does
//	        a cached buffered read inside io_submit) and one
//	        io_getevents for their completions: two system calls per 16.
//
// Each prints reads/s, CPU microseconds per read (getrusage of the whole
// process) and the threads that ran (io_uring's kernel workers
// included).
//
//	go build -o /tmp/directgo ./scripts/floors/directgo
//	/tmp/directgo single|owner FILE SECONDS [cached]
//	/tmp/directgo inline|os|pread|linuxaio FILE SECONDS cached
//
// FILE should be on a disk, not a RAM file system: O_DIRECT must reach
// the device. With cached, FILE is opened without O_DIRECT and should be
// in the page cache: the shapes of aiobench's op-32 (cached 4 KiB random
// reads, 32 in flight from one goroutine), which the kernel completes at
// submission.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	abi "github.com/waitforit/aio/internal/uring"
)

const (
	depth = 32
	bs    = 4096
)

func main() {
	cached := len(os.Args) == 5 && os.Args[4] == "cached"
	shape := os.Args[1]
	if (len(os.Args) != 4 && !cached) || (shape != "single" && shape != "owner" && shape != "inline" && shape != "os" && shape != "pread" && shape != "linuxaio") || ((shape == "inline" || shape == "os" || shape == "pread" || shape == "linuxaio") && !cached) {
		fmt.Fprintln(os.Stderr, "usage: directgo single|owner FILE SECONDS [cached]\n       directgo inline|os|pread|linuxaio FILE SECONDS cached")
		os.Exit(2)
	}
	secs, err := strconv.ParseFloat(os.Args[3], 64)
	if err != nil {
		fail(err)
	}
	flags := unix.O_RDONLY | unix.O_DIRECT
	if cached {
		flags = unix.O_RDONLY
	}
	fd, err := unix.Open(os.Args[2], flags, 0)
	if err != nil {
		fail(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		fail(err)
	}
	b := &bench{fd: int32(fd), nblocks: uint64(st.Size / bs), rnd: 88172645463325252}
	mem, err := unix.Mmap(-1, 0, depth*bs, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		fail(err)
	}
	for i := range b.bufs {
		b.bufs[i] = mem[i*bs : (i+1)*bs]
	}
	d := time.Duration(secs * float64(time.Second))
	cpu0, t0 := cpuSeconds(), time.Now()
	var n uint64
	switch shape {
	case "single":
		n = b.single(d)
	case "owner":
		n = b.owner(d)
	case "os":
		n = osReads(os.Args[2], b.nblocks, d)
	case "pread":
		n = b.pread(d)
	case "linuxaio":
		n = b.linuxAIO(d)
	default:
		n = b.inline(d)
	}
	wall, cpu := time.Since(t0).Seconds(), cpuSeconds()-cpu0
	fmt.Printf("%s: %.1fk reads/s, %.2f us CPU per read, %d threads ran\n",
		os.Args[1], float64(n)/wall/1e3, cpu/float64(n)*1e6, threadsThatRan())
}

type bench struct {
	fd      int32
	nblocks uint64
	rnd     uint64
	bufs    [depth][]byte
}

func (b *bench) pick() uint64 {
	b.rnd ^= b.rnd << 13
	b.rnd ^= b.rnd >> 7
	b.rnd ^= b.rnd << 17
	return b.rnd % b.nblocks * bs
}

// prep starts a read into slot: READ_FIXED of its registered buffer
// from the registered file (register), as aio's BufferPool and fio's
// --fixedbufs --registerfiles do.
func (b *bench) prep(r *abi.Ring, slot int) {
	sqe := r.GetSQE()
	if sqe == nil {
		fail(fmt.Errorf("SQ full"))
	}
	sqe.PrepRead(0, b.bufs[slot], b.pick())
	sqe.Opcode, sqe.BufIndex, sqe.Flags = abi.OpReadFixed, uint16(slot), abi.SQEFixedFile
	sqe.UserData = uint64(slot)
}

// register registers the buffers and the file with r, from the thread
// that made it (a SINGLE_ISSUER ring's registrations are its issuer's).
func (b *bench) register(r *abi.Ring) {
	var iov [depth]unix.Iovec
	for i := range iov {
		iov[i].Base = &b.bufs[i][0]
		iov[i].SetLen(bs)
	}
	if _, err := r.Register(abi.RegisterBuffers, unsafe.Pointer(&iov[0]), depth); err != nil {
		fail(fmt.Errorf("io_uring_register(BUFFERS): %v", err))
	}
	fds := [1]int32{b.fd}
	if _, err := r.Register(abi.RegisterFiles, unsafe.Pointer(&fds[0]), 1); err != nil {
		fail(fmt.Errorf("io_uring_register(FILES): %v", err))
	}
}

func setup(flags uint32) *abi.Ring {
	p := abi.Params{Flags: flags}
	r, err := abi.Setup(2*depth, &p)
	if err != nil {
		fail(fmt.Errorf("io_uring_setup: %v", err))
	}
	return r
}

func check(c *abi.CQE) {
	if c.Res != bs {
		fail(fmt.Errorf("read: res %d", c.Res))
	}
}

// single: the application's own locked thread enters the ring.
func (b *bench) single(d time.Duration) uint64 {
	runtime.LockOSThread()
	r := setup(abi.SetupSingleIssuer | abi.SetupDeferTaskrun)
	b.register(r)
	for i := range depth {
		b.prep(r, i)
	}
	var n uint64
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if _, err := r.Enter(r.Publish(), 1, abi.EnterGetevents, nil, 0); err != nil && err != unix.EINTR {
			fail(err)
		}
		ready := r.CQReady()
		for i := range ready {
			c := r.PeekCQE(i)
			check(c)
			b.prep(r, int(c.UserData))
		}
		r.Advance(ready)
		n += uint64(ready)
	}
	return n
}

// inlineBatch is how many reads inline enters at once: aiobench's op-32
// submits its Batch every 16 starts.
const inlineBatch = 16

// inline: aio's inline ring, without aio's bookkeeping.
func (b *bench) inline(d time.Duration) uint64 {
	r := setup(abi.SetupClamp | abi.SetupSubmitAll)
	var mu sync.Mutex // aio's inline ring is shared by every goroutine
	var n uint64
	slot := 0
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		mu.Lock()
		for range inlineBatch {
			sqe := r.GetSQE()
			sqe.PrepRead(b.fd, b.bufs[slot], b.pick())
			sqe.OpFlags = unix.RWF_NOWAIT
			sqe.UserData = uint64(slot)
			slot = (slot + 1) % depth
		}
		r.Publish()
		toSubmit, got := uint32(inlineBatch), uint32(0)
		for got < inlineBatch {
			if _, err := r.Enter(toSubmit, inlineBatch-got, abi.EnterGetevents, nil, 0); err != nil && err != unix.EINTR {
				fail(err)
			}
			toSubmit = r.SQPending()
			ready := r.CQReady()
			for i := range ready {
				check(r.PeekCQE(i))
			}
			r.Advance(ready)
			got += ready
		}
		mu.Unlock()
		n += inlineBatch
	}
	return n
}

// pread: the portable backend's shape, one preadv2(RWF_NOWAIT) per read
// from one goroutine.
func (b *bench) pread(d time.Duration) uint64 {
	var n uint64
	iov := make([][]byte, 1)
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		for slot := range depth {
			iov[0] = b.bufs[slot]
			if m, err := unix.Preadv2(int(b.fd), iov, int64(b.pick()), unix.RWF_NOWAIT); m != bs {
				fail(fmt.Errorf("preadv2: %d, %v", m, err))
			}
		}
		n += depth
	}
	return n
}

// iocb and ioEvent are <linux/aio_abi.h>'s struct iocb and struct
// io_event (little-endian).
type iocb struct {
	data    uint64
	_       uint32 // aio_key
	rwFlags uint32
	opcode  uint16
	_       int16 // aio_reqprio
	fildes  uint32
	buf     uint64
	nbytes  uint64
	offset  int64
	_       uint64    // aio_reserved2
	_       [2]uint32 // aio_flags, aio_resfd
}

type ioEvent struct {
	_   [2]uint64 // data, obj
	res int64
	_   int64 // res2
}

// linuxAIO: 16 reads per io_submit, flagged RWF_NOWAIT, reaped with one
// io_getevents.
func (b *bench) linuxAIO(d time.Duration) uint64 {
	var ctx uintptr
	if _, _, e := unix.Syscall(unix.SYS_IO_SETUP, 2*depth, uintptr(unsafe.Pointer(&ctx)), 0); e != 0 {
		fail(fmt.Errorf("io_setup: %v", e))
	}
	var cbs [inlineBatch]iocb
	var ptrs [inlineBatch]*iocb
	var evs [inlineBatch]ioEvent
	var n uint64
	slot := 0
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		for i := range cbs {
			cbs[i] = iocb{data: uint64(i), rwFlags: unix.RWF_NOWAIT, opcode: 0 /* IOCB_CMD_PREAD */, fildes: uint32(b.fd),
				buf: uint64(uintptr(unsafe.Pointer(&b.bufs[slot][0]))), nbytes: bs, offset: int64(b.pick())}
			ptrs[i] = &cbs[i]
			slot = (slot + 1) % depth
		}
		if m, _, e := unix.Syscall(unix.SYS_IO_SUBMIT, ctx, inlineBatch, uintptr(unsafe.Pointer(&ptrs[0]))); e != 0 || m != inlineBatch {
			fail(fmt.Errorf("io_submit: %d, %v", m, e))
		}
		for got := 0; got < inlineBatch; {
			m, _, e := unix.Syscall6(unix.SYS_IO_GETEVENTS, ctx, uintptr(inlineBatch-got), uintptr(inlineBatch-got), uintptr(unsafe.Pointer(&evs[0])), 0, 0)
			if e != 0 && e != unix.EINTR {
				fail(fmt.Errorf("io_getevents: %v", e))
			}
			for i := range int(m) {
				if evs[i].res != bs {
					fail(fmt.Errorf("linux aio read: res %d", evs[i].res))
				}
			}
			got += int(m)
		}
		n += inlineBatch
	}
	return n
}

// osReads: std's shape, 32 goroutines each reading at random with
// os.File.ReadAt until d has passed.
func osReads(name string, nblocks uint64, d time.Duration) uint64 {
	f, err := os.Open(name)
	if err != nil {
		fail(err)
	}
	defer f.Close()
	var stop atomic.Bool
	var total atomic.Uint64
	var wg sync.WaitGroup
	for g := range depth {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, bs)
			rnd := uint64(88172645463325252) + uint64(g)
			var n uint64
			for !stop.Load() {
				rnd ^= rnd << 13
				rnd ^= rnd >> 7
				rnd ^= rnd << 17
				if m, err := f.ReadAt(buf, int64(rnd%nblocks*bs)); m != bs {
					fail(fmt.Errorf("read: %d, %v", m, err))
				}
				n++
			}
			total.Add(n)
		}()
	}
	time.AfterFunc(d, func() { stop.Store(true) })
	wg.Wait()
	return total.Load()
}

// owner: aio's shape, without aio's bookkeeping.
func (b *bench) owner(d time.Duration) uint64 {
	type ringReady struct {
		r   *abi.Ring
		efd int
	}
	made := make(chan ringReady)
	done := make(chan uint64, depth) // completed slots, owner to application
	var sleeping, stop atomic.Bool
	go func() { // the owner
		runtime.LockOSThread()
		r := setup(abi.SetupSingleIssuer | abi.SetupDeferTaskrun | abi.SetupTaskrunFlag)
		b.register(r)
		efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
		if err != nil {
			fail(err)
		}
		fd32 := int32(efd)
		if _, err := r.Register(abi.RegisterEventfd, unsafe.Pointer(&fd32), 1); err != nil {
			fail(err)
		}
		r.SetEventfdEnabled(false)
		made <- ringReady{r, efd}
		hasWork := func() bool {
			return r.SQPending() > 0 || r.CQReady() > 0 || r.SQFlags()&(abi.SQTaskrun|abi.SQCQOverflow) != 0
		}
		var buf [8]byte
		for !stop.Load() {
			if pending := r.SQPending(); pending > 0 || r.SQFlags()&(abi.SQTaskrun|abi.SQCQOverflow) != 0 {
				if _, err := r.Enter(pending, 0, abi.EnterGetevents, nil, 0); err != nil && err != unix.EINTR {
					fail(err)
				}
			}
			if ready := r.CQReady(); ready > 0 {
				for i := range ready {
					c := r.PeekCQE(i)
					check(c)
					done <- c.UserData
				}
				r.Advance(ready)
			}
			if hasWork() {
				continue
			}
			r.SetEventfdEnabled(true)
			sleeping.Store(true)
			if hasWork() && sleeping.CompareAndSwap(true, false) {
				r.SetEventfdEnabled(false)
				continue
			}
			for {
				if _, err := unix.Read(efd, buf[:]); err != unix.EINTR {
					break
				}
			}
			sleeping.Store(false)
			r.SetEventfdEnabled(false)
		}
	}()
	rr := <-made
	r := rr.r
	one := [8]byte{1}
	poke := func() {
		if sleeping.CompareAndSwap(true, false) {
			unix.Write(rr.efd, one[:])
		}
	}
	// The application: only it writes SQEs (published with a
	// store-release of the tail); the owner only enters them.
	for i := range depth {
		b.prep(r, i)
	}
	r.Publish()
	poke()
	var n uint64
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		slot := <-done
		n++
		b.prep(r, int(slot))
		// Publish what is gathered before waiting, as aiobench's loop
		// submits its Batch before each wait.
		for more := true; more; {
			select {
			case slot := <-done:
				n++
				b.prep(r, int(slot))
			default:
				more = false
			}
		}
		r.Publish()
		poke()
	}
	stop.Store(true)
	unix.Write(rr.efd, one[:])
	return n
}

func cpuSeconds() float64 {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// threadsThatRan counts the process's threads with any CPU time.
func threadsThatRan() int {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return -1
	}
	n := 0
	for _, e := range ents {
		b, err := os.ReadFile("/proc/self/task/" + e.Name() + "/schedstat")
		if err == nil && len(b) > 0 && b[0] != '0' {
			n++
		}
	}
	return n
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "directgo:", err)
	os.Exit(1)
}
