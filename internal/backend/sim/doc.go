// Package sim is the simulator backend ("sim"): it keeps the whole
// contract while it takes, from a seed, every decision the contract
// leaves free, so that a program can be tested against every outcome an
// operation can have, not only the one a fast machine makes easy.
//
// It works on real descriptors. Underneath is a portable driver
// (internal/backend/portable): transfers on pipes and sockets go through
// it and its netpoller, and everything else (files, fsync, open, close,
// and whatever kinds that driver learns) runs through portable.Exec, the
// same code its workers run. The simulation is in the timing and the
// outcomes, not in the data.
//
// # What it decides
//
// Each operation is numbered in submission order and draws its decisions
// from its own generator, seeded by (seed, number):
//
//   - At submission it runs at once, or it stays pending.
//   - A pending operation runs when the program waits for it (Wait,
//     WaitContext, Done, OnComplete, or a blocking call); before it, other
//     pending operations may run, so completions come out of submission
//     order. A waiter that can still cancel (a context, a deadline) may
//     find the operation late: pending for a few milliseconds more, or
//     until that cancel comes. At a later submission a pending operation
//     may also run on its own, and when the program makes no call at all
//     for a few milliseconds everything pending runs.
//   - A cancel that finds its operation pending wins (ECANCELED, nothing
//     transferred), wins after a partial transfer where a kernel can end
//     one (see below), or loses: the operation completes in full. An
//     accept, open or connect that loses returns its new descriptor to a
//     caller that asked to cancel (the contract's rule 7), often. A cancel
//     for an operation already waiting in the portable driver is passed
//     on, at once or after a short grace in which the operation may still
//     complete. A cancel for an operation nobody waits for yet is decided
//     only when somebody does, so that a program that touches the buffer
//     between Cancel and Wait is caught. Close decides at once.
//   - Short transfers, done for real with a shorter buffer (n is always
//     what moved): on streams, transfers of more than 4096 bytes (smaller
//     ones are atomic on pipes, and whole in practice on stream sockets);
//     on files only when a cancel interrupts them, and then at a page
//     boundary; datagrams never.
//   - EINTR for operations of the library's blocking calls, which must
//     retry it (the Start calls never see it).
//   - ENOSPC and EIO on writes to files and on fsync, at the rates the
//     program sets (Options.Faults), instead of running them.
//   - Nothing orders an fsync after writes still in flight: the contract's
//     rule 10 is the library's to keep, above the drivers.
//
// # Checked ownership
//
// At submission a read's buffer is filled with a poison pattern
// (0xdeadbeef) and its data lands only at the moment the completion is
// delivered; bytes the read did not fill are put back as they were. A
// write's buffer is checksummed at submission, and the "kernel" takes its
// data at submission (a copy) or when it runs (checked first). A caller that wrote to either buffer in
// flight is caught when the operation completes: the simulator completes
// it and then panics, naming the operation, where it was submitted and
// the seed.
//
// # Determinism, and its limits
//
// Decisions are made under one lock, in the order the program's calls
// (submit, wait, cancel, close) arrive, from generators that depend only
// on the seed and on operation numbers. A program that makes its calls in
// a fixed order (from one goroutine, or goroutines that hand over to each
// other) therefore gets the same outcomes, in the same order, with the
// same faults, for the same seed. What the simulator cannot fix is real
// time:
//
//   - An operation on a pipe or socket that has to wait for its peer
//     completes when the peer acts; with the peer in another goroutine or
//     process, so does the order of that completion relative to others.
//   - Lateness, the grace after a lost cancel, and the idle rule are
//     wall-clock timers (a few milliseconds). A cancel from another
//     goroutine, or a context's timeout, that comes close to one of them
//     may land on either side.
//   - Goroutines that make calls concurrently make them in an order the
//     Go scheduler picks.
//
// A test that wants replays to hold keeps its calls in one goroutine and
// makes its cancels with calls too (Op.Cancel, a context it cancels
// itself, Close).
//
// Opening a FIFO blocks in the goroutine that runs it until a peer opens
// the other end: the simulator does not hand opens to a worker.
package sim
