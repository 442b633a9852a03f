//go:build unix

package sim

import "time"

// The simulator's odds. Every decision draws from an operation's own
// generator, so these only shape the distribution; the outcomes a seed
// gives are fixed by the seed.
const (
	// pPrompt: at submission, the operation runs at once (inside the
	// Start call) rather than waiting for a later moment.
	pPrompt = 0.5
	// pBackground: at a submission, one operation held from earlier
	// runs first, on its own: completions nobody waited for.
	pBackground = 0.25
	// pOthers: when a program waits for one operation, others held are
	// completed before it, each with this chance of one more
	// (completion order differs from submission order).
	pOthers = 0.3
	// pLate: an operation waited for by a caller that can still cancel it
	// (a context, a deadline) stays pending for lateFor, or until that
	// cancel comes: the caller's timeouts and cancels get to fire.
	pLate   = 0.25
	lateFor = 3 * time.Millisecond
	// idleFor: operations held while nothing at all happens for this long
	// are run (a program waiting in a way the simulator cannot see: a
	// callback, a Done channel in a select it already asked for).
	idleFor = 20 * time.Millisecond
	// The outcomes of a cancel that finds its operation still pending:
	// it wins (ECANCELED, nothing transferred), the operation completes in
	// part (a transfer cut short, where a partial transfer can happen),
	// or the cancel loses and the operation completes in full. Accepts,
	// opens and dials that lose return a new descriptor to a caller that
	// asked to cancel: rule 7's lost race, often.
	pCancelWins    = 0.4
	pCancelPartial = 0.2
	// graceFor: an operation whose cancel lost but that has to wait for
	// its descriptor (no data yet, a connect under way) gets this long to
	// complete before the cancel is passed on to the kernel.
	graceFor = 2 * time.Millisecond
	// pShort: a transfer on a stream (pipe, stream socket, tty) moves
	// fewer bytes than asked, where a kernel may (see cutPoint).
	pShort = 0.3
	// maxStream bounds one transfer on a stream, so that a 16 MiB send is
	// not copied whole for every short step.
	maxStream = 1 << 20
	// pEINTR: an operation of a blocking call (which must retry it) fails
	// with EINTR, as if a signal had interrupted it before it transferred
	// anything.
	pEINTR = 0.05
)
