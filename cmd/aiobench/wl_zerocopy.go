package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The zero-copy workloads: a file server and a proxy, where Go's net
// moves bytes with sendfile and splice and never copies them in
// userspace.

// serveFileContent is the content of the served file of size bytes: a
// hash of the offset, so a byte from the wrong place shows.
func serveFileContent(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte((uint64(i)*0x9e3779b97f4a7c15 + uint64(size)) >> 56)
	}
	return b
}

// serveFileDir writes the served file of size bytes, once per
// environment, and returns its directory and name.
func serveFileDir(rc *runCtx, size int) (dir, name string, content []byte, err error) {
	dir = filepath.Join(rc.env.dir, "serve")
	name = "f" + strconv.Itoa(size)
	content = serveFileContent(size)
	path := filepath.Join(dir, name)
	if st, err := os.Stat(path); err == nil && st.Size() == int64(size) {
		return dir, name, content, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", nil, err
	}
	return dir, name, content, os.WriteFile(path, content, 0o644)
}

// runServeFile: clients keep-alive clients GET one file of size bytes
// over and over from a net/http Server on a loopback listener of the
// implementation under test. aio serves it with http.FileServerFS on
// Ring.DirFS; std with http.FileServer(http.Dir), which sends the file
// with sendfile(2) (net/http's FileServerFS(os.DirFS) would not: it
// wraps each file in a type that hides *os.File from the connection,
// and copies through userspace). One op is one GET, its body verified
// byte for byte; at the end the server's count of requests equals the
// clients', and each client kept its one connection.
func runServeFile(rc *runCtx, clients, size int) (runStats, error) {
	if err := ensureFileLimit(uint64(2*clients + 256)); err != nil {
		return runStats{}, err
	}
	dir, name, content, err := serveFileDir(rc, size)
	if err != nil {
		return runStats{}, err
	}
	var files http.Handler
	if rc.ring == nil {
		files = http.FileServer(http.Dir(dir))
	} else {
		files = http.FileServerFS(rc.ring.DirFS(dir))
	}
	ln, err := rc.listen("tcp", "127.0.0.1:0")
	if err != nil {
		return runStats{}, err
	}
	var requests, conns atomic.Int64
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			files.ServeHTTP(w, r)
		}),
		ErrorLog: log.New(failWriter{rc}, "http server: ", 0),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		},
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	shutdown := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
			if errors.Is(err, context.DeadlineExceeded) {
				return errHung
			}
			return fmt.Errorf("http: Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: Serve: %v", err)
		}
		return nil
	}

	url := "http://" + ln.Addr().String() + "/" + name
	type client struct {
		tr       *http.Transport
		cl       *http.Client
		body     []byte
		requests int64
	}
	cls := make([]*client, clients)
	for i := range cls {
		tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
		cls[i] = &client{tr: tr, cl: &http.Client{Transport: tr, Timeout: hangTimeout / 2}, body: make([]byte, size+1)}
	}
	get := func(c *client) error {
		c.requests++
		resp, err := c.cl.Get(url)
		if err != nil {
			return err
		}
		n, err := io.ReadFull(resp.Body, c.body)
		resp.Body.Close()
		switch {
		case resp.StatusCode != http.StatusOK:
			return fmt.Errorf("status %s", resp.Status)
		case err != io.ErrUnexpectedEOF || n != size:
			return fmt.Errorf("body of %d bytes (%v), want %d", n, err, size)
		case !bytes.Equal(c.body[:size], content):
			return errors.New("the body differs from the file")
		}
		return nil
	}
	closeClients := func() {
		for _, c := range cls {
			c.tr.CloseIdleConnections()
		}
	}
	warm := make([]error, clients)
	var wg sync.WaitGroup
	for i, c := range cls {
		wg.Go(func() { warm[i] = get(c) })
	}
	wg.Wait()
	if err := errors.Join(warm...); err != nil {
		closeClients()
		return runStats{}, errors.Join(err, shutdown())
	}
	st, err := rc.runWorkers(clients, nil, func(w *worker) error {
		c := cls[w.id]
		for !w.stopped() {
			t0 := w.now()
			if err := get(c); err != nil {
				return fmt.Errorf("client %d: %v", w.id, err)
			}
			w.hist.record(w.now() - t0)
			w.ops++
		}
		return nil
	})
	if errors.Is(err, errHung) {
		return st, err
	}
	closeClients()
	if serr := shutdown(); serr != nil {
		return st, errors.Join(err, serr)
	}
	if err != nil {
		return st, err
	}
	var total int64
	for _, c := range cls {
		total += c.requests
	}
	switch {
	case conns.Load() != int64(clients):
		err = fmt.Errorf("serve-file: the server saw %d connections for %d keep-alive clients", conns.Load(), clients)
	case total != requests.Load():
		err = fmt.Errorf("serve-file: clients made %d requests, the server answered %d", total, requests.Load())
	}
	st.extra = transferExtras(rc)
	return st, err
}

// transferExtras are the bytes an aio ring moved without and with a
// userspace copy in the run's window.
func transferExtras(rc *runCtx) map[string]float64 {
	if rc.ring == nil {
		return nil
	}
	return map[string]float64{
		"zero_copy_bytes": float64(rc.ringEnd.ZeroCopyBytes - rc.ringBegin.ZeroCopyBytes),
		"copied_bytes":    float64(rc.ringEnd.CopiedBytes - rc.ringBegin.CopiedBytes),
	}
}

// proxyMsgSize is the size of every message of the proxy workload.
const proxyMsgSize = 16 << 10

// runProxy: pairs clients each send a proxyMsgSize message through a TCP
// proxy to an echo server and wait for it to come back. The proxy is the
// implementation under test: it accepts each client on its listener,
// dials the echo server, and runs io.Copy both ways (Go's net splices
// between TCP connections; aio's Conn.WriteTo too). The clients and the
// echo server are the standard library's for both, so the difference is
// the proxy's. One op is one verified round trip; at the end the byte
// counts of clients, proxy and echo server agree.
func runProxy(rc *runCtx, pairs int) (runStats, error) {
	if err := ensureFileLimit(uint64(4*pairs + 256)); err != nil {
		return runStats{}, err
	}
	// The echo server, std.
	echoLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return runStats{}, err
	}
	var echoed atomic.Int64
	var echoes sync.WaitGroup
	echoes.Go(func() {
		for {
			c, err := echoLn.Accept()
			if err != nil {
				return
			}
			echoes.Go(func() {
				defer c.Close()
				buf := make([]byte, proxyMsgSize)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						m, werr := c.Write(buf[:n])
						echoed.Add(int64(m))
						if werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			})
		}
	})
	// The proxy, the implementation under test.
	ln, err := rc.listen("tcp", "127.0.0.1:0")
	if err != nil {
		echoLn.Close()
		return runStats{}, err
	}
	var proxied atomic.Int64
	var proxies sync.WaitGroup
	proxies.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					rc.fail("proxy accept: %v", err)
				}
				return
			}
			proxies.Go(func() {
				defer c.Close()
				b, err := rc.dial(rc.ctx, "tcp", echoLn.Addr().String())
				if err != nil {
					rc.fail("proxy dial: %v", err)
					return
				}
				defer b.Close()
				up := make(chan struct{})
				go func() {
					n, err := io.Copy(b, c)
					proxied.Add(n)
					if err != nil {
						rc.fail("proxy client->server: %v", err)
					}
					b.(interface{ CloseWrite() error }).CloseWrite()
					close(up)
				}()
				n, err := io.Copy(c, b)
				proxied.Add(n)
				if err != nil {
					rc.fail("proxy server->client: %v", err)
				}
				<-up
			})
		}
	})
	stop := func() error {
		ln.Close()
		echoLn.Close()
		done := make(chan struct{})
		go func() { proxies.Wait(); echoes.Wait(); close(done) }()
		select {
		case <-done:
			return nil
		case <-time.After(hangTimeout):
			return errHung
		}
	}

	clients := make([]net.Conn, 0, pairs)
	closeClients := func() {
		for _, c := range clients {
			c.Close()
		}
	}
	for range pairs {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			closeClients()
			return runStats{}, errors.Join(err, stop())
		}
		clients = append(clients, c)
	}
	var sent, recv atomic.Int64
	st, err := rc.runWorkers(pairs, nil, func(w *worker) error {
		c := clients[w.id]
		msg := make([]byte, proxyMsgSize)
		reply := make([]byte, proxyMsgSize)
		for i := range msg {
			msg[i] = byte(i*7 + w.id)
		}
		binary.LittleEndian.PutUint32(msg[8:], uint32(w.id))
		var nSent, nRecv int64
		defer func() { sent.Add(nSent); recv.Add(nRecv) }()
		for seq := uint64(1); !w.stopped(); seq++ {
			binary.LittleEndian.PutUint64(msg, seq)
			t0 := w.now()
			n, err := c.Write(msg)
			nSent += int64(n)
			if err != nil {
				return fmt.Errorf("pair %d: write: %v", w.id, err)
			}
			n, err = io.ReadFull(c, reply)
			nRecv += int64(n)
			if err != nil {
				return fmt.Errorf("pair %d: read the echo: %v", w.id, err)
			}
			w.hist.record(w.now() - t0)
			if !bytes.Equal(msg, reply) {
				return echoMismatch(w.id, seq, msg, reply)
			}
			w.ops++
		}
		return nil
	})
	if errors.Is(err, errHung) {
		return st, err
	}
	for _, c := range clients {
		c.(*net.TCPConn).CloseWrite() // the proxy passes the end on, the echo server closes, the proxy too
	}
	for _, c := range clients {
		n, _ := io.Copy(io.Discard, c)
		recv.Add(n)
	}
	closeClients()
	if serr := stop(); serr != nil {
		return st, errors.Join(err, serr)
	}
	if err == nil && (sent.Load() != echoed.Load() || echoed.Load() != recv.Load() || proxied.Load() != 2*sent.Load()) {
		err = fmt.Errorf("lost bytes: clients sent %d, the echo server returned %d, clients received %d, the proxy moved %d (want twice what was sent)",
			sent.Load(), echoed.Load(), recv.Load(), proxied.Load())
	}
	st.extra = transferExtras(rc)
	return st, err
}
