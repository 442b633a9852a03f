package core

import (
	"fmt"
	"hash/crc32"
	"runtime"
	"strings"
)

// Checked ownership (Table.Check, AIO_CHECK=1): the contract gives a
// write's buffer to the kernel from submission until completion. A caller
// that changes it meanwhile sends the kernel bytes it did not mean to,
// now and then, depending on when the kernel copies them. With Check on,
// the buffer is checksummed at submission and at completion; a mismatch
// proves the caller wrote to it in flight, whether or not this time the
// kernel had already copied it, and panics.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum is the checksum checked ownership uses (CRC-32C: the CPU does
// it at several GB/s).
func Checksum(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }

// IsWrite reports whether k's buffer is one the kernel reads (a write,
// a send), so that checked ownership checksums it.
func IsWrite(k Kind) bool { return k == KindWrite || k == KindSend || k == KindSendmsg }

// IsRead reports whether k's buffer is one the kernel writes (a read, a
// receive).
func IsRead(k Kind) bool { return k == KindRead || k == KindRecv || k == KindRecvmsg }

// sumWrite records the checksum of a write's buffer at submission.
func (r *Record) sumWrite() {
	if IsWrite(r.Kind) && len(r.Buf) > 0 {
		r.sum, r.summed = Checksum(r.Buf), true
	}
}

// checkWrite compares the buffer with its checksum at submission and
// describes the violation, if any. Called before the completion is
// published, while the record still describes the operation.
func (r *Record) checkWrite() string {
	if got := Checksum(r.Buf); got != r.sum {
		return fmt.Sprintf("aio: checked ownership (AIO_CHECK): the buffer of %s was changed while the operation was in flight "+
			"(checksum %08x at submission, %08x at completion); the buffer belongs to the operation until its completion is observed.\n%s",
			r.Describe(), r.sum, got, r.SubmittedAt())
	}
	return ""
}

// Describe names the operation for messages: its kind, descriptor and
// buffer size.
func (r *Record) Describe() string {
	switch {
	case r.Kind == KindOpen:
		return fmt.Sprintf("an open of %q", strings.TrimSuffix(string(r.Path), "\x00"))
	case len(r.Buf) > 0:
		return fmt.Sprintf("a %s of %d bytes on fd %d", r.Kind, len(r.Buf), r.FD)
	}
	return fmt.Sprintf("a %s on fd %d", r.Kind, r.FD)
}

// SubmittedAt describes where the operation was submitted, if that was
// recorded (TrackStacks or Check), as "submitted at:" and a stack.
func (r *Record) SubmittedAt() string {
	if at := FormatStack(r.stack); at != "" {
		return "It was submitted at:" + at
	}
	return "(Where it was submitted is recorded when stack tracking is on.)"
}

// FormatStack formats program counters from runtime.Callers as a stack
// trace, one function and file:line per frame, skipping the runtime's.
func FormatStack(pcs []uintptr) string {
	if len(pcs) == 0 {
		return ""
	}
	var b strings.Builder
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "runtime.") && !strings.HasPrefix(f.Function, "testing.") {
			fmt.Fprintf(&b, "\n\t%s\n\t\t%s:%d", f.Function, f.File, f.Line)
		}
		if !more {
			break
		}
	}
	return b.String()
}
