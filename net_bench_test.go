package aio_test

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkEcho: 64-byte ping-pong over loopback TCP with 1, 64 and 1000
// connections, client and server both aio, beside the same with Go's net.
//
// "net-rawconn" is the floor for any library that waits through Go's
// public API (see BenchmarkPipePingPong): net's sockets, each call made
// through SyscallConn's RawConn with the system call in the callback
// (on Unix).
func BenchmarkEcho(b *testing.B) {
	for _, conns := range []int{1, 64, 1000} {
		b.Run("net/conns="+itoa(conns), func(b *testing.B) {
			benchEcho(b, conns, net.Listen, func(ctx context.Context, network, addr string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			})
		})
		if rawListen != nil {
			b.Run("net-rawconn/conns="+itoa(conns), func(b *testing.B) {
				benchEcho(b, conns, rawListen, rawDial)
			})
		}
		for _, backend := range socketBackends {
			b.Run("aio."+backend+"/conns="+itoa(conns), func(b *testing.B) {
				r := benchRing(b, backend)
				benchEcho(b, conns, r.Listen, r.DialContext)
			})
		}
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func benchEcho(b *testing.B, conns int,
	listen func(network, addr string) (net.Listener, error),
	dial func(ctx context.Context, network, addr string) (net.Conn, error)) {
	ln, err := listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var served sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			served.Add(1)
			go func() {
				defer served.Done()
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
			}()
		}
	}()
	clients := make([]net.Conn, conns)
	for i := range clients {
		if clients[i], err = dial(context.Background(), "tcp", ln.Addr().String()); err != nil {
			b.Fatal(err)
		}
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	b.SetBytes(128)
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := make([]byte, 64)
			buf := make([]byte, 64)
			for left.Add(-1) >= 0 {
				if _, err := c.Write(msg); err != nil {
					b.Error(err)
					return
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	for _, c := range clients {
		c.Close()
	}
	ln.Close()
	served.Wait()
}

// BenchmarkConnWriteRead: one goroutine writes 64 bytes on one end of a
// loopback TCP connection and reads them at the other, so that nothing
// ever waits: a socket call's bookkeeping on the readiness path beside
// net's (see BenchmarkPipeWriteRead for pipes).
func BenchmarkConnWriteRead(b *testing.B) {
	run := func(b *testing.B, listen func(network, addr string) (net.Listener, error),
		dial func(ctx context.Context, network, addr string) (net.Conn, error)) {
		ln, err := listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				b.Error(err)
			}
			accepted <- c
		}()
		w, err := dial(context.Background(), "tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		r := <-accepted
		if r == nil {
			b.FailNow()
		}
		defer r.Close()
		msg, buf := make([]byte, 64), make([]byte, 64)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := w.Write(msg); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(r, buf); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("net", func(b *testing.B) {
		run(b, net.Listen, (&net.Dialer{}).DialContext)
	})
	for _, backend := range socketBackends {
		b.Run("aio-"+backend, func(b *testing.B) {
			r := benchRing(b, backend)
			run(b, r.Listen, r.DialContext)
		})
	}
}
