package aio_test

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"github.com/waitforit/aio"
)

func pipeMaker(t *testing.T, backend, network string) nettest.MakePipe {
	return func() (c1, c2 net.Conn, stop func(), err error) {
		r, err := aio.New(aio.Config{Backend: strings.TrimSuffix(backend, "-ring")})
		if err != nil {
			return nil, nil, nil, err
		}
		if strings.HasSuffix(backend, "-ring") && !aio.DisableTryNowForTest(r) {
			r.Close()
			return nil, nil, nil, errors.New("cannot turn off the direct socket path")
		}
		addr := "127.0.0.1:0"
		if network == "unix" {
			addr = filepath.Join(t.TempDir(), "sock")
		}
		ln, err := r.Listen(network, addr)
		if err != nil {
			r.Close()
			return nil, nil, nil, err
		}
		type res struct {
			c   net.Conn
			err error
		}
		accepted := make(chan res, 1)
		go func() {
			c, err := ln.Accept()
			accepted <- res{c, err}
		}()
		c1, err = r.DialContext(context.Background(), network, ln.Addr().String())
		a := <-accepted
		ln.Close()
		if err != nil || a.err != nil {
			if c1 != nil {
				c1.Close()
			}
			if a.c != nil {
				a.c.Close()
			}
			r.Close()
			if err == nil {
				err = a.err
			}
			return nil, nil, nil, err
		}
		stop = func() {
			c1.Close()
			a.c.Close()
			if err := r.Close(); err != nil {
				t.Errorf("Ring.Close: %v", err)
			}
		}
		return c1, a.c, stop, nil
	}
}

func TestNetConn(t *testing.T) {
	for _, backend := range socketBackends {
		for _, network := range socketNetworks {
			t.Run(backend+"/"+network, func(t *testing.T) {
				nettest.TestConn(t, pipeMaker(t, backend, network))
			})
		}
	}
}

// TestAcceptSkipsResetConnection: a connection reset by its peer while it
// waits to be accepted does not make Accept fail; the connection behind
// it is accepted (on Linux accept(2) hands out the dead one first, which
// is a connection too; on Windows AcceptEx fails on it and the listener
// accepts the next, as Go's net does).
func TestAcceptSkipsResetConnection(t *testing.T) {
	for _, backend := range socketBackends {
		if strings.HasSuffix(backend, "-ring") {
			continue // accepts always go through the ring
		}
		t.Run(backend, func(t *testing.T) {
			r, err := aio.New(aio.Config{Backend: backend})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			ln, err := r.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			reset, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			reset.(*net.TCPConn).SetLinger(0) // Close sends a reset
			reset.Close()
			good, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer good.Close()
			if _, err := good.Write([]byte("ok")); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for i := 0; ; i++ {
				c, err := ln.(*aio.Listener).AcceptContext(ctx)
				if err != nil {
					t.Fatalf("accept %d: %v", i, err)
				}
				buf := make([]byte, 2)
				n, _ := io.ReadFull(c, buf)
				c.Close()
				if string(buf[:n]) == "ok" {
					return
				}
				if i > 0 {
					t.Fatalf("accept %d: a connection that is neither the reset one nor the good one (read %q)", i, buf[:n])
				}
			}
		})
	}
}
