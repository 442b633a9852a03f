package aio_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

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
