package aiotest

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"testing"
	"weak"

	"github.com/waitforit/aio"
)

func init() {
	register("Buffers/NotRetainedAfterCompletion", testBuffersNotRetained)
}

// holder is a buffer inside a larger object, as net/http's one-byte
// background read lies inside its connReader: a ring that kept a pointer
// to the buffer after the completion would keep the whole object (and
// whatever it points to: a server, its handler, an open directory)
// reachable.
type holder struct {
	buf [64]byte
	_   [256]byte
}

// testBuffersNotRetained: once an operation has completed (done, failed
// or cancelled), the ring keeps no pointer to its buffer: the object
// around it becomes unreachable as soon as the program drops it, while
// the ring, its files and its connections stay open. Each kind of
// operation, on files, pipes, connections and datagrams, done at once,
// completed by the driver, and blocked then cancelled. (The IOCP
// driver's per-slot WSABUF kept the last socket buffer of each slot: a
// DirFS a net/http server served stayed open after the test.)
func testBuffersNotRetained(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	f := patternFile(t, r, 1<<16)
	prd, pwr := pipe(t, r)
	c, srv := tcpPair(t, r)
	ua, ub := udpPair(t, r)
	ctx := context.Background()

	// Each use runs in its own function, so that nothing on this stack
	// still points at its holder when the collector runs.
	uses := []struct {
		name string
		use  func(h *holder)
	}{
		{"File.ReadAt", func(h *holder) {
			if n, err := f.ReadAt(h.buf[:], 0); n != len(h.buf) || err != nil {
				t.Errorf("ReadAt = (%d, %v)", n, err)
			}
		}},
		{"File.WriteAt", func(h *holder) {
			fillPattern(h.buf[:], 4096)
			if n, err := f.WriteAt(h.buf[:], 4096); n != len(h.buf) || err != nil {
				t.Errorf("WriteAt = (%d, %v)", n, err)
			}
		}},
		{"File.StartReadAt", func(h *holder) {
			op, err := f.StartReadAt(h.buf[:], 8192)
			if err != nil {
				t.Fatal(err)
			}
			if n, err := waitOp(t, op); n != len(h.buf) || err != nil {
				t.Errorf("StartReadAt = (%d, %v)", n, err)
			}
		}},
		{"Batch.StartReadAt", func(h *holder) {
			b := r.NewBatch()
			op, err := b.StartReadAt(f, h.buf[:], 12288)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Submit(); err != nil {
				t.Fatal(err)
			}
			if n, err := waitOp(t, op); n != len(h.buf) || err != nil {
				t.Errorf("batched read = (%d, %v)", n, err)
			}
		}},
		{"pipe Read, data ready", func(h *holder) {
			if _, err := pwr.Write(bytes.Repeat([]byte{1}, len(h.buf))); err != nil {
				t.Fatal(err)
			}
			if n, err := prd.Read(h.buf[:]); n != len(h.buf) || err != nil {
				t.Errorf("pipe Read = (%d, %v)", n, err)
			}
		}},
		{"pipe StartRead, blocked then cancelled", func(h *holder) {
			op, err := prd.StartRead(h.buf[:])
			if err != nil {
				t.Fatal(err)
			}
			op.Cancel()
			if n, err := waitOp(t, op); n != 0 || !errors.Is(err, aio.ErrCanceled) {
				t.Errorf("cancelled pipe StartRead = (%d, %v)", n, err)
			}
		}},
		{"Conn.Write and Read", func(h *holder) {
			fillPattern(h.buf[:], 0)
			if n, err := c.Write(h.buf[:]); n != len(h.buf) || err != nil {
				t.Errorf("Conn.Write = (%d, %v)", n, err)
			}
			got := 0
			for got < len(h.buf) {
				n, err := srv.Read(h.buf[got:])
				if err != nil {
					t.Fatalf("Conn.Read after %d bytes: %v", got, err)
				}
				got += n
			}
		}},
		{"PacketConn.WriteTo and ReadFrom", func(h *holder) {
			fillPattern(h.buf[:], 0)
			if n, err := ua.WriteTo(h.buf[:], ub.LocalAddr()); n != len(h.buf) || err != nil {
				t.Errorf("WriteTo = (%d, %v)", n, err)
			}
			if n, _, err := ub.ReadFrom(h.buf[:]); n != len(h.buf) || err != nil {
				t.Errorf("ReadFrom = (%d, %v)", n, err)
			}
		}},
		{"Conn.ReadContext, blocked then cancelled", func(h *holder) {
			ctx, cancel := context.WithCancel(ctx)
			go func() {
				waitInFlight(t, r, 1)
				cancel()
			}()
			if n, err := c.ReadContext(ctx, h.buf[:1]); n != 0 || !errors.Is(err, aio.ErrCanceled) {
				t.Errorf("cancelled ReadContext = (%d, %v)", n, err)
			}
		}},
	}
	// Ops the program keeps for reuse (StartReadAtOp) must not keep the
	// buffer of their last operation either.
	var kept [2]aio.Op
	b := r.NewBatch()
	uses = append(uses, []struct {
		name string
		use  func(h *holder)
	}{
		{"File.StartReadAtOp, the Op kept", func(h *holder) {
			if err := f.StartReadAtOp(&kept[0], h.buf[:], 0); err != nil {
				t.Fatal(err)
			}
			if n, err := waitOp(t, &kept[0]); n != len(h.buf) || err != nil {
				t.Errorf("StartReadAtOp = (%d, %v)", n, err)
			}
		}},
		{"Batch.StartReadAtOp, the Op and the Batch kept", func(h *holder) {
			if err := b.StartReadAtOp(&kept[1], f, h.buf[:], 0); err != nil {
				t.Fatal(err)
			}
			if err := b.Submit(); err != nil {
				t.Fatal(err)
			}
			if n, err := waitOp(t, &kept[1]); n != len(h.buf) || err != nil {
				t.Errorf("batched StartReadAtOp = (%d, %v)", n, err)
			}
		}},
	}...)
	weaks := make([]weak.Pointer[holder], len(uses))
	for i, u := range uses {
		weaks[i] = useAndForget(u.use)
	}
	runtime.GC()
	runtime.GC() // a second cycle: anything freed by the first's cleanups
	for i, u := range uses {
		if weaks[i].Value() != nil {
			t.Errorf("%s: the completed operation's buffer is still reachable with the ring open", u.name)
		}
	}
	if st := r.Stats(); st.InFlight != 0 {
		t.Errorf("in flight after every use: %+v", st)
	}
	runtime.KeepAlive(&kept)
	runtime.KeepAlive(b)
}

// useAndForget runs use on a fresh holder and returns a weak pointer to
// it: nothing of the caller's points at the holder any more.
//
//go:noinline
func useAndForget(use func(h *holder)) weak.Pointer[holder] {
	h := new(holder)
	use(h)
	return weak.Make(h)
}
