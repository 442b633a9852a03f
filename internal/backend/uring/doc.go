// Package uring is the io_uring driver: it turns core records into SQEs
// and completions back into core completions. One library-owned thread,
// locked for the ring's whole life, is the ring's only issuer
// (SINGLE_ISSUER, DEFER_TASKRUN): it enters what any goroutine publishes,
// runs the kernel's deferred task work and reaps, so that no request ever
// belongs to a thread that may exit under it (see Driver). The lifecycle
// rules live in internal/core; this package only talks to the kernel. On
// systems without io_uring, New returns an error wrapping
// errors.ErrUnsupported.
package uring
