// Package uring is the io_uring driver: it turns core records into SQEs,
// batches submissions from many goroutines into few io_uring_enter calls,
// and reaps completions on a dedicated thread that sleeps in the kernel.
// The lifecycle rules live in internal/core; this package only talks to the
// kernel. On systems without io_uring, New returns an error wrapping
// errors.ErrUnsupported.
package uring
