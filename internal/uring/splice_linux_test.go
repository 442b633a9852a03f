package uring

// Which mechanism should move a proxy's bytes between two sockets:
// splice(2) on the readiness path (Go's net, and aio's transfers: a
// non-blocking splice into a pipe and out of it, parking in the netpoller
// on EAGAIN) or IORING_OP_SPLICE through a pipe (one request into the
// pipe, one out of it, each waited for in the ring; a linked pair cannot
// be used: the second half's length is the first half's result, and a
// short splice breaks a link). Same loopback sockets, same 16 KiB
// messages, same writer and reader, interleaved with -count:
//
//	go test -run XXX -bench 'Splice' -count 5 ./internal/uring
//
// cpu-ns/op is the process's CPU time (getrusage) per message, writer and
// reader included (the same in both).

import (
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const spliceMsg = 16 << 10

// spliceSetup makes a source connection fed with messages and a
// destination connection drained by a reader; it returns the proxy's ends
// (src to read from, dst to write to).
//
// With pingPong, the writer sends one message only once the reader has
// received the last (a proxy's request and response: every splice into
// the pipe waits for data); without, it streams.
func spliceSetup(b *testing.B, pingPong bool) (src, dst *net.TCPConn) {
	pair := func() (*net.TCPConn, *net.TCPConn) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close(); s.Close() })
		return c.(*net.TCPConn), s.(*net.TCPConn)
	}
	w, src := pair()
	dst, rd := pair()
	ack := make(chan struct{}, 1)
	go func() {
		msg := make([]byte, spliceMsg)
		for {
			if _, err := w.Write(msg); err != nil {
				return
			}
			if pingPong {
				<-ack
			}
		}
	}()
	go func() {
		buf := make([]byte, spliceMsg)
		for {
			if _, err := io.ReadFull(rd, buf); err != nil {
				return
			}
			if pingPong {
				ack <- struct{}{}
			}
		}
	}()
	return src, dst
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSpliceReadiness moves b.N messages with Go's net (splice on
// the readiness path, aio's transfers' algorithm).
func BenchmarkSpliceReadiness(b *testing.B) {
	b.Run("stream", func(b *testing.B) { benchSpliceReadiness(b, false) })
	b.Run("pingpong", func(b *testing.B) { benchSpliceReadiness(b, true) })
}

func benchSpliceReadiness(b *testing.B, pingPong bool) {
	src, dst := spliceSetup(b, pingPong)
	b.SetBytes(spliceMsg)
	b.ResetTimer()
	cpu0 := cpuNow()
	n, err := dst.ReadFrom(io.LimitReader(src, int64(b.N)*spliceMsg))
	cpu := cpuNow() - cpu0
	b.StopTimer()
	if err != nil || n != int64(b.N)*spliceMsg {
		b.Fatalf("ReadFrom = (%d, %v)", n, err)
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkSpliceRing moves b.N messages with IORING_OP_SPLICE: into a
// pipe, then its result out of it, from one thread that owns the ring.
func BenchmarkSpliceRing(b *testing.B) {
	b.Run("stream", func(b *testing.B) { benchSpliceRing(b, false) })
	b.Run("pingpong", func(b *testing.B) { benchSpliceRing(b, true) })
}

func benchSpliceRing(b *testing.B, pingPong bool) {
	src, dst := spliceSetup(b, pingPong)
	fd := func(c *net.TCPConn) int {
		f, err := c.File() // a blocking duplicate: the ring waits for it
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		return int(f.Fd())
	}
	sfd, dfd := fd(src), fd(dst)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		b.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, 1<<20)

	done := make(chan error, 1)
	b.SetBytes(spliceMsg)
	b.ResetTimer()
	cpu0 := cpuNow()
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		r, err := Setup(8, &Params{Flags: SetupSingleIssuer | SetupDeferTaskrun})
		if err != nil {
			done <- err
			return
		}
		defer r.Close()
		// splice1 submits one splice and waits for its result.
		splice1 := func(in, out int, n int) (int32, error) {
			sqe := r.GetSQE()
			sqe.Opcode, sqe.Fd, sqe.Len = OpSplice, int32(out), uint32(n)
			sqe.SpliceFdIn = int32(in)
			sqe.Off, sqe.Addr = ^uint64(0), ^uint64(0) // no offsets: streams
			sqe.UserData = 1
			r.Publish()
			for {
				_, err := r.Enter(1, 1, EnterGetevents, nil, 0)
				if err == nil {
					break
				}
				if err != unix.EINTR {
					return 0, err
				}
			}
			for r.CQReady() == 0 {
				if _, err := r.Enter(0, 1, EnterGetevents, nil, 0); err != nil && err != unix.EINTR {
					return 0, err
				}
			}
			res := r.PeekCQE(0).Res
			r.Advance(1)
			return res, nil
		}
		total := int64(b.N) * spliceMsg
		for total > 0 {
			in, err := splice1(sfd, p[1], int(min(total, 1<<20)))
			if err != nil || in <= 0 {
				done <- err
				return
			}
			total -= int64(in)
			for in > 0 {
				out, err := splice1(p[0], dfd, int(in))
				if err != nil || out <= 0 {
					done <- err
					return
				}
				in -= out
			}
		}
		done <- nil
	}()
	err := <-done
	cpu := cpuNow() - cpu0
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// Does IORING_OP_SEND_ZC (6.0) pay here? It sends from the caller's
// pages without copying them into the socket, and tells when the kernel
// has let go of them with a second CQE (IORING_CQE_F_NOTIF): the
// operation is complete only then. Against IORING_OP_SEND of the same
// buffer, to a loopback socket drained by a reader, one send at a time:
//
//	go test -run XXX -bench 'RingSend' ./internal/uring
func BenchmarkRingSend(b *testing.B) {
	for _, size := range []int{16 << 10, 64 << 10, 1 << 20} {
		for _, zc := range []bool{false, true} {
			name := "send"
			if zc {
				name = "send-zc"
			}
			b.Run(name+"/"+itoa(size>>10)+"KiB", func(b *testing.B) { benchRingSend(b, size, zc) })
		}
	}
}

func benchRingSend(b *testing.B, size int, zc bool) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	go io.Copy(io.Discard, struct{ io.Reader }{s})
	f, err := c.(*net.TCPConn).File()
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, size)
	done := make(chan error, 1)
	b.SetBytes(int64(size))
	b.ResetTimer()
	cpu0 := cpuNow()
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		r, err := Setup(8, &Params{Flags: SetupSingleIssuer | SetupDeferTaskrun})
		if err != nil {
			done <- err
			return
		}
		defer r.Close()
		probe, err := r.Probe()
		if err != nil || !probe.Supported(OpSendZC) {
			done <- unix.ENOSYS
			return
		}
		for range b.N {
			for off := 0; off < size; {
				sqe := r.GetSQE()
				sqe.Opcode, sqe.Fd = OpSend, int32(f.Fd())
				if zc {
					sqe.Opcode = OpSendZC
				}
				sqe.Addr, sqe.Len = uint64(uintptr(unsafe.Pointer(&buf[off]))), uint32(size-off)
				sqe.OpFlags = unix.MSG_NOSIGNAL
				sqe.UserData = 1
				r.Publish()
				want := 1 // CQEs to wait for: the result, and for send-zc the notification
				sent := int32(0)
				toSubmit := uint32(1)
				for want > 0 {
					if _, err := r.Enter(toSubmit, 1, EnterGetevents, nil, 0); err != nil && err != unix.EINTR {
						done <- err
						return
					}
					toSubmit = 0
					for r.CQReady() > 0 {
						cqe := r.PeekCQE(0)
						switch {
						case cqe.Flags&CQEFNotif != 0:
							want-- // the kernel let go of buf
						default:
							sent = cqe.Res
							want--
							if cqe.Flags&CQEFMore != 0 {
								want++ // a notification follows
							}
						}
						r.Advance(1)
					}
				}
				if sent <= 0 {
					done <- Errno(sent)
					return
				}
				off += int(sent)
			}
		}
		done <- nil
	}()
	err = <-done
	cpu := cpuNow() - cpu0
	b.StopTimer()
	if err == unix.ENOSYS {
		b.Skip("no IORING_OP_SEND_ZC here")
	}
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}
