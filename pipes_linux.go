package aio

import (
	"sync"

	"golang.org/x/sys/unix"
)

// splicePipe is a pipe between the two halves of a splice: the source
// is spliced into w, r is spliced into the destination.
type splicePipe struct {
	r, w int
	size int // the pipe's capacity: the most one drain moves
}

// pipePool keeps a ring's splice pipes for reuse. A pipe goes back only
// empty (the transfer drained it: delivered its bytes, or handed them
// to its caller in an UndeliveredError), so a pipe from the pool never
// holds another transfer's bytes. Ring.Close closes the pooled pipes; a
// transfer still running then closes its own when it ends.
type pipePool struct {
	mu     sync.Mutex
	free   []*splicePipe
	closed bool
}

// maxPooledPipes bounds the idle pipes a ring keeps (two descriptors
// each): about as many as transfers run at once in a busy proxy.
const maxPooledPipes = 128

// splicePipeSize is the capacity asked for each pipe, as Go's net asks:
// one drain moves up to this much. The kernel may give less
// (pipe-max-size, pipe-user-pages-soft), which only costs system calls.
const splicePipeSize = 1 << 20

// get returns an empty pipe, from the pool or new.
func (p *pipePool) get() (*splicePipe, error) {
	p.mu.Lock()
	if n := len(p.free); n > 0 && !p.closed {
		sp := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return sp, nil
	}
	p.mu.Unlock()
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, err
	}
	size, err := unix.FcntlInt(uintptr(fds[1]), unix.F_SETPIPE_SZ, splicePipeSize)
	if err != nil {
		size, err = unix.FcntlInt(uintptr(fds[1]), unix.F_GETPIPE_SZ, 0)
		if err != nil {
			size = 64 << 10 // Linux's default
		}
	}
	return &splicePipe{r: fds[0], w: fds[1], size: size}, nil
}

// put returns sp, which must be empty, to the pool; past the bound, or
// once the ring is closed, it closes it.
func (p *pipePool) put(sp *splicePipe) {
	p.mu.Lock()
	if !p.closed && len(p.free) < maxPooledPipes {
		p.free = append(p.free, sp)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.destroy(sp)
}

func (p *pipePool) destroy(sp *splicePipe) {
	unix.Close(sp.r)
	unix.Close(sp.w)
}

// close closes the pooled pipes, and makes put close the others.
func (p *pipePool) close() {
	p.mu.Lock()
	p.closed = true
	free := p.free
	p.free = nil
	p.mu.Unlock()
	for _, sp := range free {
		p.destroy(sp)
	}
}

// drain reads the n bytes in sp into a new slice: bytes that left a
// transfer's source and could not be delivered. The pipe is empty after.
func (sp *splicePipe) drain(n int) []byte {
	b := make([]byte, n)
	got := 0
	for got < n {
		m, err := unix.Read(sp.r, b[got:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || m <= 0 {
			panic("aio: inconsistent splice pipe: it holds fewer bytes than were spliced into it")
		}
		got += m
	}
	return b
}
