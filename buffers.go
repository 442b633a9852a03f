package aio

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/waitforit/aio/internal/core"
)

// BufferPool is a fixed set of equal-sized buffers, allocated once and,
// where the backend can, registered with the kernel (io_uring's fixed
// buffers: operations on them skip mapping the caller's pages on every
// call). Each buffer starts on a 4096-byte boundary, so with a size that
// is a multiple of 4096 they suit O_DIRECT.
//
// Use a buffer's Bytes (or any part of it) with every File method that
// takes a []byte: the library recognises pool memory, and an operation on
// it that goes through the ring (every Start call and Batch; a blocking
// call only when it cannot be done at once) uses the fixed operations. Ownership follows the contract (rule 4): a buffer handed
// to an operation belongs to it until the operation completes. Releasing
// a buffer whose operation is still in flight is allowed, and safe: the
// pool recycles it only after that completion, never earlier, so an
// operation abandoned with its buffer (cancelled, say) can never write
// into memory someone else has been given.
//
// A BufferPool is safe for concurrent use.
type BufferPool struct {
	ring  *Ring
	size  int
	shift uint8  // log2(size) if size is a power of two, else 0
	mem   []byte // count*size bytes, 4096-aligned; referenced until the pool is unreachable
	base  uintptr
	slots []bufSlot
	free  chan uint32 // indices of free buffers

	registered bool   // mem is registered with the driver under index
	index      uint16 // the driver's index for mem
	refs       core.Refs
	closed     chan struct{} // closed when Close begins
	closeOnce  sync.Once
	pin        runtime.Pinner

	// Checked ownership (the simulator, or Config.Check): operations
	// started on a buffer after its Release, by slot, until they
	// complete. Handing such a buffer out again panics.
	checked bool
	strayMu sync.Mutex
	strays  map[uint32]*stray
}

// stray is an operation started on a released buffer.
type stray struct {
	n     int       // how many are in flight
	what  string    // the last one
	stack []uintptr // where it was started
}

// bufSlot is the state of one buffer, one word:
//
//	bits 32..63  generation: bumped at every Release, so a Buffer from an
//	             earlier hand-out never matches
//	bit  31      held: handed out by Get and not yet released
//	bits 0..30   operations in flight on the buffer
//
// A buffer is free (in the free list) exactly when it is neither held
// nor in flight; whoever makes it so (Release, or the completion of its
// last operation) puts it back.
type bufSlot struct {
	state atomic.Uint64
	_     [56]byte // one cache line each: completions update them concurrently
}

const (
	slotHeld     = 1 << 31
	slotInFlight = slotHeld - 1
	slotGenShift = 32
)

// Buffer is one buffer of a BufferPool, from Get until Release. It is a
// small value; copies name the same buffer. The zero Buffer is invalid.
type Buffer struct {
	pool *BufferPool
	idx  uint32
	gen  uint32
}

// maxPoolBytes bounds a pool's memory: the kernel registers at most 1 GiB
// as one buffer.
const maxPoolBytes = 1 << 30

// NewBufferPool allocates count buffers of size bytes each and, if the
// backend supports it, registers them with the kernel. Registration pins
// the memory and counts it against RLIMIT_MEMLOCK (often 8 MiB) unless
// the process has CAP_IPC_LOCK; when it is refused the pool still works,
// without fixed operations (see Registered).
func (r *Ring) NewBufferPool(size, count int) (*BufferPool, error) {
	if size <= 0 || count <= 0 || count > 1<<24 || size > maxPoolBytes/count {
		return nil, fmt.Errorf("aio: buffer pool of %d buffers of %d bytes: %w", count, size, errInvalidPool)
	}
	if !r.refs.Acquire() {
		return nil, fmt.Errorf("aio: buffer pool: %w", os.ErrClosed)
	}
	defer r.refs.Release()
	const align = 4096
	raw := make([]byte, size*count+align)
	pad := (align - int(uintptr(unsafe.Pointer(&raw[0]))%align)) % align
	p := &BufferPool{
		ring:   r,
		size:   size,
		mem:    raw[pad : pad+size*count : pad+size*count],
		slots:  make([]bufSlot, count),
		free:   make(chan uint32, count),
		closed: make(chan struct{}),
	}
	if r.checked() {
		p.checked, p.strays = true, make(map[uint32]*stray)
	}
	p.base = uintptr(unsafe.Pointer(&p.mem[0]))
	if size > 1 && size&(size-1) == 0 {
		p.shift = uint8(bits.TrailingZeros(uint(size)))
	}
	// Pinned until Close, so operations that hold a buffer need no pin of
	// their own (operations after Close are plain ones and pin their own).
	p.pin.Pin(&raw[0])
	openPools.Store(p, struct{}{})
	for i := range count {
		p.free <- uint32(i)
	}
	if reg, ok := r.driver.(core.BufferRegistrar); ok {
		if idx, err := reg.RegisterBuffer(p.mem); err == nil {
			p.registered, p.index = true, idx
		}
	}
	r.poolMu.Lock()
	pools := append(slices.Clone(r.poolList()), p) // copy on write: operations read it without a lock
	r.pools.Store(&pools)
	r.poolMu.Unlock()
	return p, nil
}

var errInvalidPool = errors.New("invalid size or count")

// openPools keeps every pool reachable until its Close (a pinned Pinner
// must not be collected), even one whose Ring was dropped unclosed.
var openPools sync.Map

// Size is the size of each buffer.
func (p *BufferPool) Size() int { return p.size }

// Cap is the number of buffers.
func (p *BufferPool) Cap() int { return len(p.slots) }

// Registered reports whether the pool's memory is registered with the
// kernel, so that reads and writes on it use fixed-buffer operations.
func (p *BufferPool) Registered() bool { return p.registered }

// Get returns a free buffer, waiting for one if all are held or still in
// flight. It fails if ctx ends first, or with os.ErrClosed once the pool
// or its ring is closed.
func (p *BufferPool) Get(ctx context.Context) (Buffer, error) {
	if b, ok := p.TryGet(); ok {
		return b, nil
	}
	select {
	case <-p.closed:
	default:
		select {
		case i := <-p.free:
			return p.hand(i), nil
		case <-p.closed:
		case <-ctx.Done():
			return Buffer{}, ctx.Err()
		}
	}
	return Buffer{}, fmt.Errorf("aio: buffer pool: %w", os.ErrClosed)
}

// TryGet returns a free buffer if there is one at once.
func (p *BufferPool) TryGet() (Buffer, bool) {
	select {
	case <-p.closed:
		return Buffer{}, false
	default:
	}
	select {
	case i := <-p.free:
		return p.hand(i), true
	default:
		return Buffer{}, false
	}
}

// hand marks free buffer i held and returns it.
func (p *BufferPool) hand(i uint32) Buffer {
	s := &p.slots[i].state
	v := s.Load()
	if v&(slotHeld|slotInFlight) != 0 {
		panic(fmt.Sprintf("aio: inconsistent buffer pool: free buffer %d in state %#x", i, v))
	}
	if p.checked {
		p.strayMu.Lock()
		st := p.strays[i]
		p.strayMu.Unlock()
		if st != nil {
			p.free <- i // still free: a recovered program keeps its pool
			panic(fmt.Sprintf("aio: checked ownership: BufferPool buffer %d handed out again while %s, started on it after its Release, "+
				"is still in flight; a released buffer's memory belongs to the pool.\nIt was started at:%s",
				i, st.what, core.FormatStack(st.stack)))
		}
	}
	s.Store(v | slotHeld) // nobody else touches a free buffer
	return Buffer{pool: p, idx: i, gen: uint32(v >> slotGenShift)}
}

// Bytes returns the buffer's memory, Size bytes. It returns nil for a
// Buffer already released: after Release the memory is the pool's.
func (b Buffer) Bytes() []byte {
	if b.pool == nil {
		return nil
	}
	v := b.pool.slots[b.idx].state.Load()
	if uint32(v>>slotGenShift) != b.gen || v&slotHeld == 0 {
		return nil
	}
	lo := int(b.idx) * b.pool.size
	return b.pool.mem[lo : lo+b.pool.size : lo+b.pool.size]
}

// Release gives the buffer back to its pool. If an operation on it is
// still in flight, the pool recycles it only once that operation has
// completed. The caller must not use the memory after Release. Releasing
// a Buffer twice (or a copy of a released one) panics: it could
// otherwise hand one buffer to two holders.
func (b Buffer) Release() {
	if b.pool == nil {
		panic("aio: Release of the zero Buffer")
	}
	p := b.pool
	s := &p.slots[b.idx].state
	for {
		v := s.Load()
		if uint32(v>>slotGenShift) != b.gen || v&slotHeld == 0 {
			panic("aio: Buffer released twice")
		}
		next := uint64(b.gen+1)<<slotGenShift | v&slotInFlight
		if s.CompareAndSwap(v, next) {
			if next&slotInFlight == 0 {
				p.free <- b.idx
			}
			return
		}
	}
}

// hold marks the buffer rec.Buf lies in as in flight, if it is one of p's,
// and tells the driver it may use the fixed operations. It reports
// whether rec.Buf is p's memory.
func (p *BufferPool) hold(rec *core.Record) bool {
	i, h := p.take(rec.Buf)
	switch h {
	case notPool:
		return false
	case held:
		rec.Hold, rec.HoldSlot = p, i
		rec.Fixed, rec.BufIndex = p.registered, p.index
	case released:
		if p.checked {
			p.holdStray(rec, i)
		}
	}
	return true
}

// holding is what take found of a buffer.
type holding uint8

const (
	notPool  holding = iota // not p's memory
	held                    // p's buffer i, now in flight: Unhold, then Done
	plain                   // p's memory, not trackable (spanning two buffers, or p closing)
	released                // p's buffer i, released by its holder: a plain operation (a stray)
)

// take marks the buffer buf lies in as in flight, if it is one of p's
// and can be tracked.
func (p *BufferPool) take(buf []byte) (uint32, holding) {
	i, ok := p.slotOf(buf)
	if !ok {
		return 0, notPool
	}
	if i < 0 {
		return 0, plain // spans two buffers: not one the pool can track
	}
	if !p.refs.Acquire() {
		return 0, plain // the pool is closing
	}
	h := p.holdSlot(uint32(i))
	if h != held {
		p.refs.Release()
	}
	return uint32(i), h
}

// slotOf returns the index of the buffer buf lies in, if buf is p's
// memory (ok), or -1 if it spans two buffers.
func (p *BufferPool) slotOf(buf []byte) (i int, ok bool) {
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	if addr < p.base || addr-p.base >= uintptr(len(p.mem)) {
		return 0, false
	}
	var j uintptr
	if p.shift != 0 {
		j = (addr - p.base) >> p.shift // no division for the usual sizes
	} else {
		j = (addr - p.base) / uintptr(p.size)
	}
	if addr-p.base+uintptr(len(buf)) > (j+1)*uintptr(p.size) {
		return -1, true
	}
	return int(j), true
}

// holdSlot marks buffer i in flight (held), if its holder still has it.
// The caller holds a reference of p's refs, for as long as the operation.
func (p *BufferPool) holdSlot(i uint32) holding {
	s := &p.slots[i].state
	for {
		v := s.Load()
		if v&slotHeld == 0 {
			// Not handed out: the caller kept a slice past Release. A
			// plain operation; the memory stays valid (the operation's
			// slice keeps it reachable), though it may be someone else's
			// by now.
			return released
		}
		if v&slotInFlight == slotInFlight {
			panic("aio: inconsistent buffer pool: too many operations on one buffer")
		}
		if s.CompareAndSwap(v, v+1) {
			return held
		}
	}
}

// holdStray notes an operation started on released buffer i, until it
// completes (checked ownership).
func (p *BufferPool) holdStray(rec *core.Record, i uint32) {
	stack := make([]uintptr, 32)
	stack = stack[:runtime.Callers(4, stack)]
	p.strayMu.Lock()
	st := p.strays[i]
	if st == nil {
		st = &stray{}
		p.strays[i] = st
	}
	st.n++
	st.what, st.stack = rec.Describe(), stack
	p.strayMu.Unlock()
	rec.Hold, rec.HoldSlot = (*strayHold)(p), i
}

// strayHold is the BufferHold of an operation on a released buffer.
type strayHold BufferPool

// Unhold ends the stray operation's hold on buffer i: the kernel is done
// with it. The buffer is the pool's (it was released), so nothing is to be
// recycled.
func (h *strayHold) Unhold(i uint32) (recycle bool) {
	p := (*BufferPool)(h)
	p.strayMu.Lock()
	if st := p.strays[i]; st != nil {
		if st.n--; st.n == 0 {
			delete(p.strays, i)
		}
	}
	p.strayMu.Unlock()
	return false
}

// Done has nothing left to do for a stray operation.
func (h *strayHold) Done(i uint32, recycle bool) {}

// Unhold is called once the kernel is done with an operation's buffer
// (core.BufferHold): at its completion, before the owner is told, or when
// its submission failed. A buffer still held by its Buffer is free for
// that holder's Release at once; one released while in flight is
// recycled by Done, after the owner was told.
func (p *BufferPool) Unhold(i uint32) (recycle bool) {
	v := p.slots[i].state.Add(^uint64(0)) // one atomic instruction: no load first
	if v&slotInFlight == slotInFlight {
		panic(fmt.Sprintf("aio: inconsistent buffer pool: buffer %d completed more operations than it started", i))
	}
	// Released, and this was its last operation: nobody else can reach
	// the slot until Done puts it back.
	return v&(slotHeld|slotInFlight) == 0
}

// Done ends what Unhold began: it recycles a buffer released while in
// flight (recycle) and lets Close stop waiting for the operation.
func (p *BufferPool) Done(i uint32, recycle bool) {
	p.recycle(i, recycle)
	p.refs.Release()
}

// recycle is Done without the reference (held by a callRefs).
func (p *BufferPool) recycle(i uint32, recycle bool) {
	if recycle {
		p.free <- i // released while in flight: recycled now, never earlier
	}
}

// Close closes the pool: Get fails from now on. It waits for every
// operation in flight on a buffer of the pool to complete (cancel them
// first if they may never end), then unregisters the memory. Buffers still
// held stay readable; operations started on them after Close are plain
// ones. Ring.Close closes the ring's pools.
func (p *BufferPool) Close() error {
	first := false
	p.closeOnce.Do(func() { first = true })
	if !first {
		return fmt.Errorf("aio: close buffer pool: %w", os.ErrClosed)
	}
	close(p.closed)
	r := p.ring
	r.poolMu.Lock()
	pools := slices.DeleteFunc(slices.Clone(r.poolList()), func(q *BufferPool) bool { return q == p })
	r.pools.Store(&pools)
	r.poolMu.Unlock()
	p.refs.StartClose()
	<-p.refs.Drained()
	if p.registered {
		p.ring.driver.(core.BufferRegistrar).UnregisterBuffer(p.index)
	}
	p.pin.Unpin()
	openPools.Delete(p)
	return nil
}

// holdBuffer lets a pool of r track rec's buffer, if it is pool memory.
func (r *Ring) holdBuffer(rec *core.Record) {
	pp := r.pools.Load()
	if pp == nil || len(rec.Buf) == 0 {
		return
	}
	for _, p := range *pp {
		if p.hold(rec) {
			return
		}
	}
}

// holdAtStart marks the buffer buf lies in as in flight, if it is a
// held buffer of one of r's pools, for an operation started in a Batch
// (its buffer is the operation's from the Start call). It takes no pool
// reference: a batch never submitted must not keep a pool's Close (or
// the Ring's) waiting; the operation takes one when it gets its record
// (Op.giveHold). A buffer spanning two, or already released, is left to
// Submit, as for any operation.
func (r *Ring) holdAtStart(buf []byte) (*BufferPool, uint32, bool) {
	pp := r.pools.Load()
	if pp == nil || len(buf) == 0 {
		return nil, 0, false
	}
	for _, q := range *pp {
		i, mine := q.slotOf(buf)
		if !mine {
			continue
		}
		if i >= 0 && q.holdSlot(uint32(i)) == held {
			return q, uint32(i), true
		}
		return nil, 0, false
	}
	return nil, 0, false
}

// giveHold hands the slot o has held since its Start to rec, with a
// reference to the pool for as long as rec (as BufferPool.hold would
// take), and reports whether o had one. A pool that is closing cannot
// lend its registration: the operation is then a plain one and the slot
// is let go at once (nobody can Get from a closed pool).
func (c *opNotifier) giveHold(rec *core.Record) bool {
	o := (*Op)(c)
	if !o.now.fromStart {
		return false
	}
	q, i := o.now.pool, o.now.slot
	o.now.pool, o.now.fromStart = nil, false
	if q.refs.Acquire() {
		rec.Hold, rec.HoldSlot = q, i
		rec.Fixed, rec.BufIndex = q.registered, q.index
	} else {
		q.recycle(i, q.Unhold(i))
	}
	return true
}

// dropStartHold lets go of the slot o has held since its Start, for an
// operation that fails before it is submitted.
func (o *Op) dropStartHold() {
	if o.now.fromStart {
		q, i := o.now.pool, o.now.slot
		o.now.pool, o.now.fromStart = nil, false
		q.recycle(i, q.Unhold(i))
	}
}

// callRefs are the references that operations done at once in the
// caller (Ring.doNow) hold for the length of the call: one per pool (or
// file) met, not one per operation.
type callRefs struct {
	held [2]*core.Refs
	more []*core.Refs
}

// has acquires the reference r for the call, unless it holds it, and
// reports whether it holds it now (false: its pool or file is closing).
func (h *callRefs) has(r *core.Refs) bool {
	if h.held[0] == r { // the usual case, inlined: one pool, one file
		return true
	}
	return h.add(r)
}

func (h *callRefs) add(r *core.Refs) bool {
	for _, q := range h.held {
		if q == r {
			return true
		}
	}
	for _, q := range h.more {
		if q == r {
			return true
		}
	}
	if !r.Acquire() {
		return false
	}
	for i, q := range h.held {
		if q == nil {
			h.held[i] = r
			return true
		}
	}
	h.more = append(h.more, r)
	return true
}

// release drops every reference held.
func (h *callRefs) release() {
	for _, q := range h.held {
		if q != nil {
			q.Release()
		}
	}
	for _, q := range h.more {
		q.Release()
	}
}

// takeBuffer is holdBuffer for an operation without a record, done at
// once in the caller (Ring.doNow), whose pool references refs holds for
// the call: if buf is a held buffer of one of r's pools, it marks it in
// flight and returns its pool and slot, for Unhold (and a recycle, see
// Done) once the operation is over. ok is false for a buffer that a
// checked pool must see in a record (released by its holder).
func (r *Ring) takeBuffer(buf []byte, refs *callRefs) (p *BufferPool, slot uint32, ok bool) {
	pp := r.pools.Load()
	if pp == nil {
		return nil, 0, true
	}
	for _, q := range *pp {
		i, mine := q.slotOf(buf)
		if !mine {
			continue
		}
		if i < 0 || !refs.has(&q.refs) { // spanning two buffers, or closing: plain
			return nil, 0, true
		}
		switch q.holdSlot(uint32(i)) {
		case held:
			return q, uint32(i), true
		default: // released
			return nil, 0, !q.checked
		}
	}
	return nil, 0, true
}

// poolList returns the ring's open pools.
func (r *Ring) poolList() []*BufferPool {
	if pp := r.pools.Load(); pp != nil {
		return *pp
	}
	return nil
}
