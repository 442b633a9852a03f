//go:build unix

// Command echogo puts aiobench's tcp-echo rows beside their floor in Go:
// 64-byte echoes over N loopback TCP connections, a goroutine for each
// side of each, in four variants run in interleaved rounds (the order
// rotated each round), with the medians of the rounds:
//
//	net          Go's net
//	net-rawconn  net's sockets, each Read and Write made through the
//	             socket's syscall.RawConn with the system call in the
//	             callback: the only public way to wait in Go's
//	             netpoller, so the floor of any library outside the
//	             runtime (aio's readiness path is one)
//	aio-uring    aio's Listen and Dial, io_uring backend
//	aio-portable the same, portable backend
//
// It prints each variant's round trips per second and their ratio to
// net's. Where net-rawconn's ratio is below 1, the gap is the public
// API's, not aio's.
//
// -hops N adds net-rawconn+N: net-rawconn whose every Read and Write
// first follows a chain of N pointers, each to a 64-byte object of its
// own, each load waiting for the one before. It prices a library's
// layers where they cost most: with 1,000 connections, each one's memory
// has left the CPU's caches by its next call, and each pointer followed
// is a cache miss.
//
//	go run ./scripts/floors/echogo [-conns 1000] [-rounds 9] [-duration 750ms] [-hist] [-hops N]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/bits"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/waitforit/aio"
)

type variant struct {
	name   string
	listen func() (net.Listener, error)
	dial   func(addr string) (net.Conn, error)
}

func main() {
	conns := flag.Int("conns", 1000, "connections")
	rounds := flag.Int("rounds", 9, "interleaved rounds")
	duration := flag.Duration("duration", 750*time.Millisecond, "length of each variant's run in each round")
	hops := flag.Int("hops", 0, "also run net-rawconn+N: net-rawconn following N pointers to objects of their own in every Read and Write")
	flag.BoolVar(&withHist, "hist", false, "each client times each round trip into a latency histogram of its own, as aiobench does (15 KiB per client)")
	flag.Parse()
	raiseFileLimit(uint64(2**conns + 256))

	var vs []variant
	netDial := func(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }
	netListen := func() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
	vs = append(vs, variant{name: "net", listen: netListen, dial: netDial})
	vs = append(vs, variant{name: "net-rawconn",
		listen: func() (net.Listener, error) {
			ln, err := netListen()
			return rawListener{ln, 0}, err
		},
		dial: func(addr string) (net.Conn, error) {
			c, err := netDial(addr)
			if err != nil {
				return nil, err
			}
			return newRawConn(c, 0)
		}})
	if *hops > 0 {
		vs = append(vs, variant{name: fmt.Sprintf("net-rawconn+%d", *hops),
			listen: func() (net.Listener, error) {
				ln, err := netListen()
				return rawListener{ln, *hops}, err
			},
			dial: func(addr string) (net.Conn, error) {
				c, err := netDial(addr)
				if err != nil {
					return nil, err
				}
				return newRawConn(c, *hops)
			}})
	}
	for _, backend := range []string{"uring", "portable"} {
		r, err := aio.New(aio.Config{Backend: backend})
		if err != nil {
			fmt.Fprintf(os.Stderr, "echogo: aio-%s unavailable: %v\n", backend, err)
			continue
		}
		defer r.Close()
		vs = append(vs, variant{name: "aio-" + backend,
			listen: func() (net.Listener, error) { return r.Listen("tcp", "127.0.0.1:0") },
			dial: func(addr string) (net.Conn, error) {
				return r.DialContext(context.Background(), "tcp", addr)
			}})
	}

	results := make([][]float64, len(vs))
	for round := range *rounds {
		for k := range vs {
			i := (k + round) % len(vs)
			rate, err := run(vs[i], *conns, *duration)
			if err != nil {
				fmt.Fprintf(os.Stderr, "echogo: %s: %v\n", vs[i].name, err)
				os.Exit(1)
			}
			results[i] = append(results[i], rate)
		}
	}
	base := median(results[0])
	fmt.Printf("%d connections, %d rounds of %v, medians\n", *conns, *rounds, *duration)
	for i, v := range vs {
		fmt.Printf("%-13s %8.1fk round trips/s  %.3fx net\n", v.name, median(results[i])/1000, median(results[i])/base)
	}
}

// withHist is -hist.
var withHist bool

// hist has the layout of aiobench's latency histogram: log-linear
// buckets, 32 per power of two.
type hist struct {
	counts     [60 * 32]uint64
	total, max uint64
}

func (h *hist) record(d time.Duration) {
	v := uint64(max(d, 0))
	b := int(v)
	if v >= 32 {
		e := bits.Len64(v) - 1
		b = (e-4)*32 + int((v>>(e-5))&31)
	}
	h.counts[b]++
	h.total++
	h.max = max(h.max, v)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// run echoes over conns connections of v for d and returns round trips
// per second. Every echo is checked.
func run(v variant, conns int, d time.Duration) (float64, error) {
	ln, err := v.listen()
	if err != nil {
		return 0, err
	}
	var served sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			served.Go(func() {
				defer c.Close()
				buf := make([]byte, 64)
				for {
					if _, err := io.ReadFull(c, buf); err != nil {
						return
					}
					if _, err := c.Write(buf); err != nil {
						return
					}
				}
			})
		}
	}()
	clients := make([]net.Conn, conns)
	for i := range clients {
		if clients[i], err = v.dial(ln.Addr().String()); err != nil {
			return 0, err
		}
	}
	var stop atomic.Bool
	var total atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := make(chan struct{})
	for id, c := range clients {
		wg.Go(func() {
			msg, buf := make([]byte, 64), make([]byte, 64)
			var h *hist
			if withHist {
				h = new(hist)
			}
			<-start
			var n int64
			for seq := uint64(0); !stop.Load(); seq++ {
				var t time.Time
				if h != nil {
					t = time.Now()
				}
				msg[0], msg[1], msg[2], msg[3] = byte(seq), byte(seq>>8), byte(id), byte(id>>8)
				if _, err := c.Write(msg); err != nil {
					failed.Store(err)
					break
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					failed.Store(err)
					break
				}
				if h != nil {
					h.record(time.Since(t))
				}
				if string(buf) != string(msg) {
					failed.Store(fmt.Errorf("connection %d: echo differs", id))
					break
				}
				n++
			}
			total.Add(n)
		})
	}
	t0 := time.Now()
	close(start)
	time.Sleep(d) // the measured window
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(t0)
	for _, c := range clients {
		c.Close()
	}
	ln.Close()
	served.Wait()
	if err, ok := failed.Load().(error); ok {
		return 0, err
	}
	return float64(total.Load()) / elapsed.Seconds(), nil
}

// rawListener accepts net's connections as rawConns.
type rawListener struct {
	net.Listener
	hops int
}

func (l rawListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newRawConn(c, l.hops)
}

// rawConn is a net.Conn whose Read and Write go through its RawConn.
type rawConn struct {
	net.Conn
	hops *hop // the chain Read and Write follow first (-hops)
	rc   syscall.RawConn
	buf  []byte
	n    int
	errn syscall.Errno
	rfn  func(fd uintptr) bool
	wfn  func(fd uintptr) bool
}

// hop is one link of a rawConn's chain: a cache line of its own.
type hop struct {
	next *hop
	_    [56]byte
}

// follow walks the chain, each load waiting for the one before it.
func (x *rawConn) follow() {
	n := 0
	for h := x.hops; h != nil; h = h.next {
		n++
	}
	if n < 0 { // never: keeps the walk
		panic(n)
	}
}

func newRawConn(c net.Conn, hops int) (net.Conn, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		c.Close()
		return nil, syscall.EINVAL
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	x := &rawConn{Conn: c, rc: rc}
	for range hops {
		x.hops = &hop{next: x.hops}
	}
	x.rfn, x.wfn = x.attempt(syscall.Read), x.attempt(syscall.Write)
	return x, nil
}

// attempt is the RawConn callback that makes call on x.buf: false while
// it would block.
func (x *rawConn) attempt(call func(int, []byte) (int, error)) func(fd uintptr) bool {
	return func(fd uintptr) bool {
		n, err := call(int(fd), x.buf)
		for err == syscall.EINTR {
			n, err = call(int(fd), x.buf)
		}
		if err == syscall.EAGAIN {
			return false
		}
		x.n, x.errn = n, 0
		if err != nil {
			x.n, x.errn = 0, err.(syscall.Errno)
		}
		return true
	}
}

func (x *rawConn) Read(p []byte) (int, error) {
	x.follow()
	x.buf = p
	if err := x.rc.Read(x.rfn); err != nil {
		return 0, err
	}
	if x.errn != 0 {
		return 0, x.errn
	}
	if x.n == 0 {
		return 0, io.EOF
	}
	return x.n, nil
}

func (x *rawConn) Write(p []byte) (int, error) {
	x.follow()
	done := 0
	for done < len(p) {
		x.buf = p[done:]
		if err := x.rc.Write(x.wfn); err != nil {
			return done, err
		}
		if x.errn != 0 {
			return done, x.errn
		}
		done += x.n
	}
	return done, nil
}

// raiseFileLimit lifts the soft limit on descriptors to the hard one if
// it is below n (Go raises it at start on most systems already).
func raiseFileLimit(n uint64) {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil || uint64(lim.Cur) >= n {
		return
	}
	lim.Cur = lim.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}
