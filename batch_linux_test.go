package aio_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio"
	abi "github.com/waitforit/aio/internal/uring"
)

// TestBatchOneEnter: on io_uring a batch of reads reaches the kernel in
// one io_uring_enter.
func TestBatchOneEnter(t *testing.T) {
	r, f := uringFile(t, 1<<20)
	var err error
	b := r.NewBatch()
	ops := make([]*aio.Op, 32)
	for i := range ops {
		if ops[i], err = b.StartReadAt(f, make([]byte, 4096), int64(i)*4096); err != nil {
			t.Fatal(err)
		}
	}
	e0, _ := aio.SubmitEnters(r)
	if err := b.Submit(); err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		if n, err := op.Wait(); n != 4096 || err != nil {
			t.Fatalf("= (%d, %v)", n, err)
		}
	}
	e1, _ := aio.SubmitEnters(r) // the owner entered them before they completed
	if e1-e0 != 1 {
		t.Errorf("a batch of %d took %d io_uring_enter calls, want 1", len(ops), e1-e0)
	}
}

// BenchmarkBatchReadAt: one goroutine keeps 32 cached 4 KiB reads in
// flight, started in a Batch submitted every 16 (aiobench's op-32).
func BenchmarkBatchReadAt(b *testing.B) { benchBatchReadAt(b, false) }

// BenchmarkBatchReadAtPool is BenchmarkBatchReadAt into the buffers of a
// registered BufferPool: READ_FIXED instead of READ.
func BenchmarkBatchReadAtPool(b *testing.B) { benchBatchReadAt(b, true) }

// BenchmarkBatchReadAtBookkeeping is BenchmarkBatchReadAtPool with the
// kernel's reads skipped (SkipKernelReadsForTest): aio's own CPU per
// read, without the copies' noise. (aiobench's "floor inline" spends
// about 40 user-ns a read: the loop, the SQEs and the CQEs.)
func BenchmarkBatchReadAtBookkeeping(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchBatchReadAtOn(b, false, aio.SkipKernelReadsForTest) })
	b.Run("pool", func(b *testing.B) { benchBatchReadAtOn(b, true, aio.SkipKernelReadsForTest) })
}

func benchBatchReadAt(b *testing.B, pooled bool) { benchBatchReadAtOn(b, pooled, nil) }

func benchBatchReadAtOn(b *testing.B, pooled bool, setup func(*aio.Ring)) {
	name := benchFile(b)
	r := benchRing(b, "uring")
	if setup != nil {
		setup(r)
	}
	f, err := r.Open(context.Background(), name, os.O_RDONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	const depth, every = 32, 16
	bufs := make([][]byte, depth)
	for i := range bufs {
		bufs[i] = make([]byte, 4096)
	}
	if pooled {
		pool, err := r.NewBufferPool(4096, depth)
		if err != nil || !pool.Registered() {
			b.Fatalf("pool: %v, registered %v", err, pool != nil && pool.Registered())
		}
		defer pool.Close()
		for i := range bufs {
			buf, _ := pool.TryGet()
			bufs[i] = buf.Bytes()
			defer buf.Release()
		}
	}
	ops := make([]aio.Op, depth) // reused: no allocation per read
	live := make([]bool, depth)
	batch := r.NewBatch()
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(4096)
	b.ReportAllocs()
	e0, _ := aio.SubmitEnters(r)
	u0, s0 := cpuTimes(b)
	st0 := r.Stats()
	w0, _, _ := aio.OwnerWakesForTest(r)
	f0, _ := aio.FixedOpsForTest(r)
	i := 0
	for b.Loop() {
		slot := i % depth
		if live[slot] {
			if _, err := ops[slot].Wait(); err != nil {
				b.Fatal(err)
			}
		}
		if err := batch.StartReadAtOp(&ops[slot], f, bufs[slot], rng.Int64N(benchFileSize/4096)*4096); err != nil {
			b.Fatal(err)
		}
		live[slot] = true
		if i%every == every-1 {
			batch.Submit()
		}
		i++
	}
	batch.Submit()
	for slot := range ops {
		if live[slot] {
			ops[slot].Wait()
		}
	}
	reportEnters(b, r, e0)
	reportCPU(b, u0, s0)
	st := r.Stats()
	b.ReportMetric(float64(st.Driver-st0.Driver)/float64(b.N), "driver/op")
	w1, _, _ := aio.OwnerWakesForTest(r)
	b.ReportMetric(float64(w1-w0)/float64(b.N), "wakes/op")
	f1, _ := aio.FixedOpsForTest(r)
	b.ReportMetric(float64(f1-f0)/float64(b.N), "fixed/op")
}

// BenchmarkBatchReadAtFloor is BenchmarkBatchReadAt's reads with nothing
// of aio's: 16 reads flagged RWF_NOWAIT per io_uring_enter of a plain
// ring, reaped in the same call (aiobench's "floor inline"). Its
// user-ns/op is what aio's own code adds to. The variants register the
// file, the buffers or both with the ring: on Linux 6.18 here none
// spent measurably less (six alternations each), so aio's inline ring
// uses neither.
func BenchmarkBatchReadAtFloor(b *testing.B) {
	for _, v := range []struct {
		name             string
		fixedFile, fixed bool
	}{{"plain", false, false}, {"fixedfile", true, false}, {"fixedbuf", false, true}, {"both", true, true}} {
		b.Run(v.name, func(b *testing.B) { benchFloor(b, v.fixedFile, v.fixed) })
	}
}

func benchFloor(b *testing.B, fixedFile, fixedBuf bool) {
	name := benchFile(b)
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	p := abi.Params{Flags: abi.SetupClamp | abi.SetupSubmitAll}
	ring, err := abi.Setup(64, &p)
	if err != nil {
		b.Fatal(err)
	}
	defer ring.Close()
	const depth, every = 32, 16
	mem := make([]byte, depth*4096)
	bufs := make([][]byte, depth)
	for i := range bufs {
		bufs[i] = mem[i*4096 : (i+1)*4096]
	}
	sfd := int32(fd)
	if fixedFile {
		fds := []int32{int32(fd)}
		if _, err := ring.Register(abi.RegisterFiles, unsafe.Pointer(&fds[0]), 1); err != nil {
			b.Fatal(err)
		}
		sfd = 0
	}
	if fixedBuf {
		iov := []unix.Iovec{{Base: &mem[0]}}
		iov[0].SetLen(len(mem))
		if _, err := ring.Register(abi.RegisterBuffers, unsafe.Pointer(&iov[0]), 1); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(4096)
	b.ReportAllocs()
	u0, s0 := cpuTimes(b)
	slot, queued := 0, uint32(0)
	enter := func() {
		ring.Publish()
		toSubmit, got := queued, uint32(0)
		for got < queued {
			if _, err := ring.Enter(toSubmit, queued-got, abi.EnterGetevents, nil, 0); err != nil && err != unix.EINTR {
				b.Fatal(err)
			}
			toSubmit = ring.SQPending()
			ready := ring.CQReady()
			for i := range ready {
				if c := ring.PeekCQE(i); c.Res != 4096 {
					b.Fatalf("read: res %d", c.Res)
				}
			}
			ring.Advance(ready)
			got += ready
		}
		queued = 0
	}
	for b.Loop() {
		sqe := ring.GetSQE()
		sqe.PrepRead(sfd, bufs[slot], uint64(rng.Int64N(benchFileSize/4096)*4096))
		if fixedBuf {
			sqe.Opcode, sqe.BufIndex = abi.OpReadFixed, 0
		}
		if fixedFile {
			sqe.Flags |= abi.SQEFixedFile
		}
		sqe.OpFlags = unix.RWF_NOWAIT
		sqe.UserData = uint64(slot)
		slot = (slot + 1) % depth
		if queued++; queued == every {
			enter()
		}
	}
	enter()
	reportCPU(b, u0, s0)
}

// cpuTimes is the process's user and system CPU time so far.
func cpuTimes(b *testing.B) (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// reportCPU reports the process's user and system CPU time per op since
// cpuTimes gave u0 and s0: what the library's own code costs (user) apart
// from the kernel's work (sys), which on a VM is the noisier.
func reportCPU(b *testing.B, u0, s0 time.Duration) {
	u1, s1 := cpuTimes(b)
	if b.N > 0 {
		b.ReportMetric(float64(u1-u0)/float64(b.N), "user-ns/op")
		b.ReportMetric(float64(s1-s0)/float64(b.N), "sys-ns/op")
	}
}

// TestBatchCachedReadsAtOnce: a Batch's reads of cached data are done at
// once, in Submit (on io_uring in one enter of the inline ring), with no
// record: they have completed when Submit returns, read the right bytes
// into plain and pool buffers, count as Direct, and give the pool's
// buffers back (Close would wait for a buffer still held). A read that
// must wait for the ring (here: past the end of the file, which the ring
// confirms) goes to the driver beside them.
func TestBatchCachedReadsAtOnce(t *testing.T) {
	eachLinuxRing(t, func(t *testing.T, r *aio.Ring) {
		const blocks = 32
		data := make([]byte, blocks*4096)
		for i := range data {
			data[i] = byte(i/4096 + i%251)
		}
		name := filepath.Join(t.TempDir(), "data")
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := r.Open(context.Background(), name, os.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		pool, err := r.NewBufferPool(4096, blocks/2)
		if err != nil {
			t.Fatal(err)
		}
		bufs := make([][]byte, blocks)
		held := make([]aio.Buffer, 0, blocks/2)
		for i := range bufs {
			if i%2 == 0 {
				b, ok := pool.TryGet()
				if !ok {
					t.Fatal("pool empty")
				}
				held = append(held, b)
				bufs[i] = b.Bytes()
			} else {
				bufs[i] = make([]byte, 4096)
			}
		}
		// The read past the end is on a File of its own: after a try that did not get the
		// whole read, the next few reads of a File skip the try.
		g, err := r.Open(context.Background(), name, os.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		st0 := r.Stats()
		batch := r.NewBatch()
		ops := make([]aio.Op, blocks)
		for i := range ops {
			// In reverse, so that no read is where a sequential one
			// would be.
			if err := batch.StartReadAtOp(&ops[i], f, bufs[i], int64(blocks-1-i)*4096); err != nil {
				t.Fatal(err)
			}
		}
		var eof aio.Op
		if err := batch.StartReadAtOp(&eof, g, make([]byte, 10), blocks*4096); err != nil {
			t.Fatal(err)
		}
		if err := batch.Submit(); err != nil {
			t.Fatal(err)
		}
		for i := range ops {
			if !ops[i].Completed() {
				t.Fatalf("read %d of cached data had not completed when Submit returned", i)
			}
			n, err := ops[i].Wait()
			want := data[(blocks-1-i)*4096:][:4096]
			if n != 4096 || err != nil || !bytes.Equal(bufs[i], want) {
				t.Fatalf("read %d = (%d, %v), right bytes %v", i, n, err, bytes.Equal(bufs[i], want))
			}
		}
		if n, err := eof.Wait(); n != 0 || err != io.EOF {
			t.Fatalf("read past the end = (%d, %v), want (0, EOF)", n, err)
		}
		st := r.Stats()
		if d, drv := st.Direct-st0.Direct, st.Driver-st0.Driver; d != blocks || drv != 1 {
			t.Errorf("Direct +%d, Driver +%d: want +%d and +1", d, drv, blocks)
		}
		if st.Submitted-st0.Submitted != blocks+1 || st.InFlight != 0 {
			t.Errorf("stats %+v after %+v: want %d more submitted, none in flight", st, st0, blocks+1)
		}
		for _, b := range held {
			b.Release()
		}
		closed := make(chan error, 1)
		go func() { closed <- pool.Close() }()
		select {
		case err := <-closed:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("BufferPool.Close still waits: a read done at once kept its buffer held")
		}

		// A second pool, made after the first was closed (on io_uring
		// in the entry of the table that one emptied), is read into
		// at once too, into the right memory.
		pool2, err := r.NewBufferPool(4096, 8)
		if err != nil {
			t.Fatal(err)
		}
		defer pool2.Close()
		st0 = r.Stats()
		ownerWakes := func() uint64 {
			if r.Backend() != "uring" {
				return 0 // no owner thread
			}
			w, _, _ := aio.OwnerWakesForTest(r)
			return w
		}
		w0 := ownerWakes()
		for i := range 8 {
			b, _ := pool2.TryGet()
			defer b.Release()
			if err := batch.StartReadAtOp(&ops[i], f, b.Bytes(), int64(i)*4096); err != nil {
				t.Fatal(err)
			}
			bufs[i] = b.Bytes()
		}
		if err := batch.Submit(); err != nil {
			t.Fatal(err)
		}
		for i := range 8 {
			if n, err := ops[i].Wait(); n != 4096 || err != nil || !bytes.Equal(bufs[i], data[i*4096:][:4096]) {
				t.Fatalf("read %d into the second pool = (%d, %v)", i, n, err)
			}
		}
		if st := r.Stats(); st.Direct-st0.Direct != 8 {
			t.Errorf("%d of 8 reads into the second pool done at once", st.Direct-st0.Direct)
		}
		// A batch done wholly at once leaves the ring's owner asleep (it
		// once poked it, submitting no record, for nothing).
		if w1 := ownerWakes(); w1 != w0 {
			t.Errorf("a batch done at once woke the ring's owner %d times", w1-w0)
		}
	})
}

// TestBatchAtOnceOpReusedMeanwhile: an Op a Batch completed at once may
// be reused, on another File, by a goroutine that saw it complete while
// Submit is still running; Submit must then give back the reference it
// took on the first File, not touch the second's. Else the first File's
// Close would wait for good, or the second's count would go below zero.
func TestBatchAtOnceOpReusedMeanwhile(t *testing.T) {
	eachLinuxRing(t, func(t *testing.T, r *aio.Ring) {
		dir := t.TempDir()
		open := func(name string, fill byte) *aio.File {
			if err := os.WriteFile(filepath.Join(dir, name), bytes.Repeat([]byte{fill}, 1<<16), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := r.Open(context.Background(), filepath.Join(dir, name), os.O_RDONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
		a, b := open("a", 'a'), open("b", 'b')
		iters := 2000
		if testing.Short() {
			iters = 300
		}
		batch := r.NewBatch()
		ops := make([]aio.Op, 8)
		bufs := make([][]byte, len(ops))
		for i := range bufs {
			bufs[i] = make([]byte, 4096)
		}
		reusedOnB := 0
		for range iters {
			for i := range ops {
				if err := batch.StartReadAtOp(&ops[i], a, bufs[i], int64(i)*4096); err != nil {
					t.Fatal(err)
				}
			}
			reused := make(chan bool)
			go func() {
				for !ops[0].Completed() {
					runtime.Gosched()
				}
				// Reused at once, perhaps before Submit has returned.
				if err := b.StartReadAtOp(&ops[0], bufs[0], 0); err != nil {
					t.Error(err)
				}
				reused <- true
			}()
			if err := batch.Submit(); err != nil {
				t.Fatal(err)
			}
			<-reused
			for i := range ops {
				want := byte('a')
				if i == 0 {
					want = 'b'
				}
				if n, err := ops[i].Wait(); n != 4096 || err != nil || bufs[i][0] != want || bufs[i][4095] != want {
					t.Fatalf("read %d = (%d, %v) %q, want %q", i, n, err, bufs[i][0], want)
				}
			}
			reusedOnB++
		}
		closed := make(chan error, 2)
		go func() { closed <- a.Close() }()
		go func() { closed <- b.Close() }()
		for range 2 {
			select {
			case err := <-closed:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("a File's Close still waits after %d rounds: a reference taken at once was not given back", reusedOnB)
			}
		}
	})
}

// TestStartReadPartlyCachedIsWhole: a Start read whose first half is
// cached and second half is not is not cut short where the cache ends:
// the try at once gets only the cached half, so the read goes to the
// driver, which reads it all (as a blocking read would).
func TestStartReadPartlyCachedIsWhole(t *testing.T) {
	eachLinuxRing(t, func(t *testing.T, r *aio.Ring) {
		const size = 16 << 20 // large folios: half of one cannot leave the cache alone
		want := make([]byte, size)
		for i := range want {
			want[i] = byte(i*7 + i>>12)
		}
		name := filepath.Join(t.TempDir(), "data")
		if err := os.WriteFile(name, want, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := r.Open(context.Background(), name, os.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := unix.Fsync(int(f.Fd())); err != nil { // dirty pages stay in the cache
			t.Fatal(err)
		}
		buf := make([]byte, size)
		for round := range 3 {
			if _, err := f.ReadAt(buf, 0); err != nil { // all cached
				t.Fatal(err)
			}
			if err := unix.Fadvise(int(f.Fd()), size/2, 0, unix.FADV_DONTNEED); err != nil {
				t.Fatal(err)
			}
			// What the test is about: the first half cached, the second not.
			if got := resident(t, f, size); !got[0] || got[size/4096-1] {
				t.Fatalf("round %d: first page cached %v, last %v; want true, false", round, got[0], got[size/4096-1])
			}
			clear(buf)
			op, err := f.StartReadAt(buf, 0)
			if err != nil {
				t.Fatal(err)
			}
			if n, err := op.Wait(); n != size || err != nil || !bytes.Equal(buf, want) {
				t.Fatalf("round %d: read of a half-cached file = (%d, %v), right bytes %v; want (%d, nil)", round, n, err, bytes.Equal(buf, want), size)
			}
		}
	})
}

// resident reports, page by page, which of f's first size bytes are in
// the page cache (mincore of a mapping, which reads nothing in).
func resident(t *testing.T, f *aio.File, size int) []bool {
	t.Helper()
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, (size+4095)/4096)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	out := make([]bool, len(vec))
	for i, v := range vec {
		out[i] = v&1 != 0
	}
	return out
}
