package uring

// Benchmarks of the kernel's floor for cached 4 KiB random reads, with no
// Go scheduling in the way: pread(2) against io_uring in batches, plain
// with a registered file and fixed buffers, and with SQPOLL. They say what
// aio's drivers can hope for on this machine:
//
//	go test -run XXX -bench 'Pread|RawRing' ./internal/uring

import (
	"math/rand/v2"
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

const rawSize = 64 << 20

func rawFile(b *testing.B) *os.File {
	f, err := os.CreateTemp(b.TempDir(), "raw")
	if err != nil {
		b.Fatal(err)
	}
	os.Remove(f.Name())
	f.Truncate(rawSize)
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	for o := 0; o < rawSize; o += len(buf) {
		f.WriteAt(buf, int64(o))
	}
	return f
}

func BenchmarkPread(b *testing.B) {
	f := rawFile(b)
	defer f.Close()
	buf := make([]byte, 4096)
	for b.Loop() {
		unix.Pread(int(f.Fd()), buf, int64(rand.IntN(rawSize/4096))*4096)
	}
}

// rawRing sets up a ring with p and batch read buffers; the file and the
// ring are closed at the end of the benchmark.
func rawRing(b *testing.B, p Params, batch int) (*os.File, *Ring, [][]byte) {
	f := rawFile(b)
	b.Cleanup(func() { f.Close() })
	r, err := Setup(256, &p)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, 4096)
	}
	return f, r, bufs
}

// reapReads consumes the CQEs there, each of which must be a whole
// 4 KiB read, and returns how many there were.
func reapReads(b *testing.B, r *Ring) uint32 {
	c := r.CQReady()
	for i := uint32(0); i < c; i++ {
		if res := r.PeekCQE(i).Res; res != 4096 {
			b.Fatal(res)
		}
	}
	r.Advance(c)
	return c
}

func benchRawRing(b *testing.B, batch int) {
	f, r, bufs := rawRing(b, Params{}, batch)
	n := 0
	for n < b.N {
		for i := 0; i < batch; i++ {
			sqe := r.GetSQE()
			sqe.PrepRead(int32(f.Fd()), bufs[i], uint64(rand.IntN(rawSize/4096))*4096)
			sqe.UserData = uint64(i + 1)
		}
		r.Publish()
		r.Enter(uint32(batch), uint32(batch), EnterGetevents, nil, 0)
		reapReads(b, r)
		n += batch
	}
}

func BenchmarkRawRing1(b *testing.B)  { benchRawRing(b, 1) }
func BenchmarkRawRing8(b *testing.B)  { benchRawRing(b, 8) }
func BenchmarkRawRing32(b *testing.B) { benchRawRing(b, 32) }

func benchRawRingFixed(b *testing.B, batch int) { benchRawRingRegistered(b, batch, true) }

// BenchmarkRawRingFile32 registers the file only, with plain buffers.
func BenchmarkRawRingFile32(b *testing.B) { benchRawRingRegistered(b, 32, false) }

func benchRawRingRegistered(b *testing.B, batch int, fixedBufs bool) {
	f, r, _ := rawRing(b, Params{}, 0)
	fds := []int32{int32(f.Fd())}
	if _, err := r.Register(RegisterFiles, unsafe.Pointer(&fds[0]), 1); err != nil {
		b.Fatal(err)
	}
	mem := make([]byte, batch*4096)
	iov := make([]unix.Iovec, batch)
	for i := range iov {
		iov[i].Base = &mem[i*4096]
		iov[i].SetLen(4096)
	}
	if fixedBufs {
		if _, err := r.Register(RegisterBuffers, unsafe.Pointer(&iov[0]), uint32(batch)); err != nil {
			b.Fatal(err)
		}
	}
	n := 0
	for n < b.N {
		for i := 0; i < batch; i++ {
			sqe := r.GetSQE()
			sqe.PrepRead(0, mem[i*4096:(i+1)*4096], uint64(rand.IntN(rawSize/4096))*4096)
			if fixedBufs {
				sqe.Opcode = OpReadFixed
				sqe.BufIndex = uint16(i)
			}
			sqe.Flags |= SQEFixedFile
			sqe.UserData = uint64(i + 1)
		}
		r.Publish()
		r.Enter(uint32(batch), uint32(batch), EnterGetevents, nil, 0)
		reapReads(b, r)
		n += batch
	}
}

func BenchmarkRawRingFixed1(b *testing.B)  { benchRawRingFixed(b, 1) }
func BenchmarkRawRingFixed32(b *testing.B) { benchRawRingFixed(b, 32) }

// benchRawRingSQPoll is benchRawRing with IORING_SETUP_SQPOLL: a kernel
// thread takes the SQEs, so submitting costs no system call (only a
// wake-up after the thread idled), and completions are awaited by
// spinning on the CQ, as an SQPOLL application would. The thread's CPU
// counts: cpu-ns/op is the whole process's CPU time (the SQ thread is one
// of its threads) per read, against wall-clock ns/op.
func benchRawRingSQPoll(b *testing.B, batch int) {
	f, r, bufs := rawRing(b, Params{Flags: SetupSQPoll, SQThreadIdle: 100}, batch)
	var ru0, ru1 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru0)
	n := 0
	for b.Loop() {
		if n%batch == 0 {
			for i := 0; i < batch; i++ {
				sqe := r.GetSQE()
				sqe.PrepRead(int32(f.Fd()), bufs[i], uint64(rand.IntN(rawSize/4096))*4096)
				sqe.UserData = uint64(i + 1)
			}
			r.Publish()
			if r.SQFlags()&SQNeedWakeup != 0 {
				r.Enter(0, 0, EnterSQWakeup, nil, 0)
			}
			got := uint32(0)
			for got < uint32(batch) {
				got += reapReads(b, r)
			}
		}
		n++
	}
	unix.Getrusage(unix.RUSAGE_SELF, &ru1)
	cpu := (ru1.Utime.Nano() + ru1.Stime.Nano()) - (ru0.Utime.Nano() + ru0.Stime.Nano())
	b.ReportMetric(float64(cpu)/float64(n), "cpu-ns/op")
}

func BenchmarkRawRingSQPoll32(b *testing.B) { benchRawRingSQPoll(b, 32) }
