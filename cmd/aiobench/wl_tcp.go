package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// echoServer is the echo side of tcp-echo: an accept loop and one
// goroutine per connection, each echoing 64-byte messages until its peer
// closes. Its connections and listener go through the implementation
// under test.
type echoServer struct {
	rc       *runCtx
	ln       net.Listener
	accepted chan struct{} // one token per connection accepted
	loop     sync.WaitGroup
	conns    sync.WaitGroup

	mu   sync.Mutex
	open []net.Conn

	recv, sent atomic.Int64
}

// listen and dial are net's, or the ring's, for the implementation under
// test.
func (rc *runCtx) listen(network, address string) (net.Listener, error) {
	if rc.ring == nil {
		return net.Listen(network, address)
	}
	return rc.ring.Listen(network, address)
}

func (rc *runCtx) dial(ctx context.Context, network, address string) (net.Conn, error) {
	if rc.ring == nil {
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}
	return rc.ring.DialContext(ctx, network, address)
}

// startEchoServer listens on a loopback port and serves until shutdown.
func (rc *runCtx) startEchoServer(conns int) (*echoServer, error) {
	ln, err := rc.listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &echoServer{rc: rc, ln: ln, accepted: make(chan struct{}, conns)}
	s.loop.Go(s.acceptLoop)
	return s, nil
}

func (s *echoServer) acceptLoop() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.rc.fail("accept: %v", err)
			}
			return
		}
		s.mu.Lock()
		s.open = append(s.open, c)
		s.mu.Unlock()
		s.conns.Go(func() { s.echo(c) })
		select {
		case s.accepted <- struct{}{}:
		default:
			s.rc.fail("accepted a connection nobody dialed")
		}
	}
}

// echo sends every 64-byte message back until the peer closes; on any
// failure it closes the connection, so the client's read fails instead of
// waiting for ever.
func (s *echoServer) echo(c net.Conn) {
	defer c.Close()
	msg := make([]byte, pingMsgSize)
	tamper := s.rc.env.cfg.echoTamper
	for seq := 1; ; seq++ {
		n, err := io.ReadFull(c, msg)
		s.recv.Add(int64(n))
		if err == io.EOF { // the client closed between messages
			return
		}
		if err != nil {
			if !errors.Is(err, net.ErrClosed) { // shutdown after a failure
				s.rc.fail("echo read: %v", err)
			}
			return
		}
		if tamper != nil {
			tamper(seq, msg)
		}
		n, err = c.Write(msg)
		s.sent.Add(int64(n))
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.rc.fail("echo write: %v", err)
			}
			return
		}
	}
}

// shutdown closes the listener, waits for the accept loop, then for the
// echo goroutines, which return once their clients have closed. If they
// do not within hangTimeout, an operation never completed.
func (s *echoServer) shutdown(clientsClosed bool) error {
	s.ln.Close()
	if !clientsClosed { // a failed run: stop the echoes from this side
		s.mu.Lock()
		for _, c := range s.open {
			c.Close()
		}
		s.mu.Unlock()
	}
	done := make(chan struct{})
	go func() { s.loop.Wait(); s.conns.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(hangTimeout):
		return errHung
	}
}

// runTCPEcho: conns clients each send a 64-byte message over its own
// loopback TCP connection and wait for the echo, server and clients both
// through the implementation under test. One op is one round trip. Every
// echo must equal what was sent (each message carries its connection and
// sequence number), and at the end the byte counts of both sides agree.
func runTCPEcho(rc *runCtx, conns int) (runStats, error) {
	// Both ends of every connection are this process's, beside the
	// listener, the ring and the files of the runtime and the tool.
	if err := ensureFileLimit(uint64(2*conns + 256)); err != nil {
		return runStats{}, err
	}
	srv, err := rc.startEchoServer(conns)
	if err != nil {
		return runStats{}, err
	}
	clients := make([]net.Conn, 0, conns)
	closeClients := func() {
		for _, c := range clients {
			if err := c.Close(); err != nil {
				rc.fail("close client: %v", err)
			}
		}
		clients = nil
	}
	ctx, cancel := context.WithTimeout(rc.ctx, 10*time.Second)
	defer cancel()
	addr := srv.ln.Addr().String()
	for range conns {
		c, err := rc.dial(ctx, "tcp", addr)
		if err == nil {
			select {
			case <-srv.accepted:
			case <-ctx.Done():
				err = fmt.Errorf("the server did not accept connection %d: %w", len(clients), ctx.Err())
			}
		}
		if err != nil {
			if c != nil {
				c.Close()
			}
			closeClients()
			return runStats{}, errors.Join(err, srv.shutdown(false))
		}
		clients = append(clients, c)
	}

	var sent, recv atomic.Int64
	st, err := rc.runWorkers(conns, nil, func(w *worker) error {
		c := clients[w.id]
		var msg, reply [pingMsgSize]byte
		for i := range msg {
			msg[i] = byte(i*7 + w.id)
		}
		binary.LittleEndian.PutUint32(msg[8:], uint32(w.id))
		var nSent, nRecv int64
		defer func() { sent.Add(nSent); recv.Add(nRecv) }()
		for seq := uint64(1); !w.stopped(); seq++ {
			binary.LittleEndian.PutUint64(msg[:], seq)
			t0 := w.now()
			n, err := c.Write(msg[:])
			nSent += int64(n)
			if err != nil {
				return fmt.Errorf("conn %d: write: %v", w.id, err)
			}
			n, err = io.ReadFull(c, reply[:])
			nRecv += int64(n)
			if err != nil {
				return fmt.Errorf("conn %d: read the echo: %v", w.id, err)
			}
			w.hist.record(w.now() - t0)
			if msg != reply {
				return echoMismatch(w.id, seq, msg[:], reply[:])
			}
			w.ops++
		}
		return nil
	})
	if errors.Is(err, errHung) {
		return st, err // nothing may be closed
	}
	// Clients close between messages (or after a failure): the echoes see
	// the end of their streams and return.
	closeClients()
	if serr := srv.shutdown(err == nil); serr != nil {
		return st, serr
	}
	if err == nil && (sent.Load() != srv.recv.Load() || srv.recv.Load() != srv.sent.Load() || srv.sent.Load() != recv.Load()) {
		err = fmt.Errorf("lost bytes: clients sent %d, the server received %d and sent %d, clients received %d",
			sent.Load(), srv.recv.Load(), srv.sent.Load(), recv.Load())
	}
	return st, err
}

// echoMismatch describes an echo that differs from the message sent: the
// first differing offset and the 16 bytes from there.
func echoMismatch(conn int, seq uint64, sent, got []byte) error {
	i := 0
	for i < len(sent) && sent[i] == got[i] {
		i++
	}
	j := min(i+16, len(sent))
	return fmt.Errorf("conn %d, round trip %d: sent %x at offset %d, got back %x", conn, seq, sent[i:j], i, got[i:j])
}
