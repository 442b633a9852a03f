package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// httpBodySize is the size of every response body of the http workload.
const httpBodySize = 128

// httpByte is byte i of the body answering client's request seq: a
// hash, so a body sent to the wrong request, or altered, shows.
func httpByte(client int, seq uint64, i int) byte {
	return byte((seq*0x9e3779b97f4a7c15 + uint64(client)*0xbf58476d1ce4e5b9 + uint64(i)*0x94d049bb133111eb) >> 56)
}

// fillHTTPBody writes the body of client's request seq into dst.
func fillHTTPBody(dst []byte, client int, seq uint64) {
	for i := range dst {
		dst[i] = httpByte(client, seq, i)
	}
}

// httpServer is the server side of the http workload: net/http's Server
// on a listener of the implementation under test, answering GET
// /CLIENT/SEQ with the httpBodySize bytes of that request.
type httpServer struct {
	rc     *runCtx
	srv    *http.Server
	ln     net.Listener
	served chan error // Serve's result

	requests, bodyBytes atomic.Int64
	conns               atomic.Int64 // connections the server saw open
	bufs                sync.Pool
}

func (h *httpServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cs, ss, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	client, err1 := strconv.Atoi(cs)
	seq, err2 := strconv.ParseUint(ss, 10, 64)
	if r.Method != http.MethodGet || !ok || err1 != nil || err2 != nil {
		h.rc.fail("http: unexpected request %s %s", r.Method, r.URL)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	body, _ := h.bufs.Get().(*[httpBodySize]byte)
	if body == nil {
		body = new([httpBodySize]byte)
	}
	defer h.bufs.Put(body)
	fillHTTPBody(body[:], client, seq)
	if tamper := h.rc.env.cfg.httpTamper; tamper != nil {
		tamper(seq, body[:])
	}
	h.requests.Add(1)
	n, err := w.Write(body[:])
	h.bodyBytes.Add(int64(n))
	if err != nil {
		h.rc.fail("http: write the response to %s: %v", r.URL, err)
	}
}

// failWriter turns the server's error log into invariant failures: on
// loopback, with well-behaved clients, it has nothing to say.
type failWriter struct{ rc *runCtx }

func (f failWriter) Write(p []byte) (int, error) {
	f.rc.fail("%s", strings.TrimSpace(string(p)))
	return len(p), nil
}

// startHTTPServer listens on a loopback port and serves until shutdown.
func (rc *runCtx) startHTTPServer() (*httpServer, error) {
	ln, err := rc.listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &httpServer{rc: rc, ln: ln, served: make(chan error, 1)}
	h.srv = &http.Server{
		Handler:  h,
		ErrorLog: log.New(failWriter{rc}, "http server: ", 0),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				h.conns.Add(1)
			}
		},
	}
	go func() { h.served <- h.srv.Serve(ln) }()
	return h, nil
}

// shutdown stops the server gracefully once the clients have closed
// their connections, and reports how Serve ended. If it does not end
// within hangTimeout, an operation never completed.
func (h *httpServer) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		h.srv.Close()
		if errors.Is(err, context.DeadlineExceeded) {
			return errHung
		}
		return fmt.Errorf("http: Shutdown: %v", err)
	}
	select {
	case err := <-h.served:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: Serve: %v", err)
		}
		return nil
	case <-ctx.Done():
		return errHung
	}
}

// httpClient is one keep-alive client: its own Transport, so that it
// holds one connection of its own.
type httpClient struct {
	id     int
	tr     *http.Transport
	cl     *http.Client
	base   string // "http://127.0.0.1:port/"
	body   [httpBodySize + 1]byte
	nextSq uint64

	requests, bodyBytes int64 // the client's alone until the run ends
}

// get makes the client's next request and checks the response.
func (c *httpClient) get() error {
	seq := c.nextSq
	c.nextSq++
	c.requests++
	resp, err := c.cl.Get(c.base + strconv.Itoa(c.id) + "/" + strconv.FormatUint(seq, 10))
	if err != nil {
		return fmt.Errorf("client %d, request %d: %v", c.id, seq, err)
	}
	n, err := io.ReadFull(resp.Body, c.body[:httpBodySize])
	c.bodyBytes += int64(n)
	if err == nil {
		// The body must end here.
		var m int
		m, err = resp.Body.Read(c.body[httpBodySize:])
		c.bodyBytes += int64(m)
		if m == 0 && err == io.EOF {
			err = nil
		} else if err == nil || err == io.EOF {
			err = fmt.Errorf("the body is longer than %d bytes", httpBodySize)
		}
	}
	resp.Body.Close()
	switch {
	case err != nil:
		return fmt.Errorf("client %d, request %d: read the body: %v", c.id, seq, err)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("client %d, request %d: status %s", c.id, seq, resp.Status)
	}
	for i, b := range c.body[:httpBodySize] {
		if want := httpByte(c.id, seq, i); b != want {
			return fmt.Errorf("client %d, request %d: body byte %d is %#02x, want %#02x", c.id, seq, i, b, want)
		}
	}
	return nil
}

// runHTTP: clients keep-alive clients, each a standard library
// http.Client with a Transport of its own, do GETs of small responses
// from one net/http Server on a loopback listener of the implementation
// under test (aio: Ring.Listen; std: net.Listen). The clients are the
// same for both, so the difference is the server's. One op is one
// request. Every body is verified (it depends on the client and the
// request's sequence number), each client must keep its one connection
// (the server sees exactly clients connections), and at the end the
// server's count of requests and body bytes equals the clients'.
func runHTTP(rc *runCtx, clients int) (runStats, error) {
	if err := ensureFileLimit(uint64(2*clients + 256)); err != nil {
		return runStats{}, err
	}
	h, err := rc.startHTTPServer()
	if err != nil {
		return runStats{}, err
	}
	cls := make([]*httpClient, clients)
	base := "http://" + h.ln.Addr().String() + "/"
	for i := range cls {
		tr := &http.Transport{ // Proxy nil: straight to loopback, whatever the environment says
			MaxIdleConnsPerHost: 1,
			DisableCompression:  true,
		}
		cls[i] = &httpClient{id: i, tr: tr, base: base, cl: &http.Client{Transport: tr, Timeout: hangTimeout / 2}}
	}
	closeClients := func() {
		for _, c := range cls {
			c.tr.CloseIdleConnections()
		}
	}

	// Warm up: every client opens its connection with a first request.
	warm := make([]error, clients)
	var wg sync.WaitGroup
	for i, c := range cls {
		wg.Go(func() { warm[i] = c.get() })
	}
	wg.Wait()
	if err := errors.Join(warm...); err != nil {
		closeClients()
		return runStats{}, errors.Join(err, h.shutdown())
	}

	st, err := rc.runWorkers(clients, nil, func(w *worker) error {
		c := cls[w.id]
		for !w.stopped() {
			t0 := w.now()
			if err := c.get(); err != nil {
				return err
			}
			w.hist.record(w.now() - t0)
			w.ops++
		}
		return nil
	})
	if errors.Is(err, errHung) {
		return st, err // nothing may be closed
	}
	closeClients()
	if serr := h.shutdown(); serr != nil {
		return st, errors.Join(err, serr)
	}
	if err != nil {
		return st, err
	}
	var requests, bodyBytes int64
	for _, c := range cls {
		requests += c.requests
		bodyBytes += c.bodyBytes
	}
	switch {
	case h.conns.Load() != int64(clients):
		err = fmt.Errorf("http: the server saw %d connections for %d keep-alive clients: a connection was dropped", h.conns.Load(), clients)
	case requests != h.requests.Load() || bodyBytes != h.bodyBytes.Load():
		err = fmt.Errorf("http: clients made %d requests and read %d body bytes, the server answered %d and wrote %d",
			requests, bodyBytes, h.requests.Load(), h.bodyBytes.Load())
	}
	return st, err
}
