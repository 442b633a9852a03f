package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/waitforit/aio"
)

// stream is one end of a pipe as the implementation under test sees it;
// *os.File and *aio.File both are.
type stream interface {
	io.Reader
	io.Writer
	io.Closer
}

// pipePair is a pipe whose read end and write end go through the
// implementation under test.
type pipePair struct {
	r, w stream
	aioR *aio.File // the read end, when it goes through a ring
	osR  *os.File  // the read end, when it is a plain os.File
}

// newPipe makes a pipe (see pipe). For aio both ends are adopted by the
// ring and the os.File originals closed at once, so that closing the aio
// write end really ends the stream. Both ends are closed (once) when the
// run is over.
func (rc *runCtx) newPipe() (*pipePair, error) {
	pr, ar, pw, err := pipe(rc.ring)
	if err != nil {
		return nil, err
	}
	if rc.ring == nil {
		pp := &pipePair{r: pr, w: pw, osR: pr}
		rc.closeFile("pipe read end", onceCloser(pp.r))
		rc.closeFile("pipe write end", onceCloser(pp.w))
		return pp, nil
	}
	defer pw.Close()
	aw, err := rc.ring.NewFile(pw)
	if err != nil {
		ar.Close()
		return nil, err
	}
	pp := &pipePair{r: ar, w: aw, aioR: ar}
	rc.closeFile("pipe read end", onceCloser(pp.r))
	rc.closeFile("pipe write end", onceCloser(pp.w))
	return pp, nil
}

// onceCloser makes Close idempotent: a pipe end closed early to signal the
// end of the stream is closed again, harmlessly, when the run is over.
func onceCloser(s stream) stream { return &closeOnce{stream: s} }

type closeOnce struct {
	stream
	once sync.Once
	err  error
}

func (c *closeOnce) Close() error {
	c.once.Do(func() { c.err = c.stream.Close() })
	return c.err
}

// pingMsgSize is the size of one ping-pong message.
const pingMsgSize = 64

// runPingPong: goroutine A sends a 64-byte message on one pipe and waits
// for it to come back on the other; goroutine B echoes. One op is one
// round trip. Every echo must equal what was sent, and at the end every
// byte sent has been received on both sides.
func runPingPong(rc *runCtx) (runStats, error) {
	ab, err := rc.newPipe()
	if err != nil {
		return runStats{}, err
	}
	ba, err := rc.newPipe()
	if err != nil {
		return runStats{}, err
	}
	var aSent, aRecv, bRecv, bSent int64
	bufs := [3][pingMsgSize]byte{}
	st, err := rc.runWorkers(2, nil, func(w *worker) error {
		if w.id == 1 { // B: echo until A closes its end
			defer ba.w.Close()
			msg := bufs[2][:]
			for {
				n, err := io.ReadFull(ab.r, msg)
				bRecv += int64(n)
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("echo read: %v", err)
				}
				n, err = ba.w.Write(msg)
				bSent += int64(n)
				if err != nil {
					return fmt.Errorf("echo write: %v", err)
				}
			}
		}
		defer ab.w.Close() // A: ends the stream, so B returns
		msg, reply := bufs[0][:], bufs[1][:]
		for i := range msg {
			msg[i] = byte(i * 7)
		}
		for seq := uint64(1); !w.stopped(); seq++ {
			binary.LittleEndian.PutUint64(msg, seq)
			t0 := w.now()
			n, err := ab.w.Write(msg)
			aSent += int64(n)
			if err != nil {
				return fmt.Errorf("ping write: %v", err)
			}
			n, err = io.ReadFull(ba.r, reply)
			aRecv += int64(n)
			if err != nil {
				return fmt.Errorf("pong read: %v", err)
			}
			w.hist.record(w.now() - t0)
			if !bytes.Equal(msg, reply) {
				return fmt.Errorf("round trip %d: sent %x, got back %x", seq, msg[:16], reply[:16])
			}
			w.ops++
		}
		return nil
	})
	if err == nil && (aSent != bRecv || bRecv != bSent || bSent != aRecv) {
		err = fmt.Errorf("lost bytes: A sent %d, B received %d and sent %d, A received %d", aSent, bRecv, bSent, aRecv)
	}
	return st, err
}
