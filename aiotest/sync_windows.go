package aiotest

import (
	"bytes"
	"testing"

	"github.com/waitforit/aio"
)

// stuckWrite starts a write that stays in flight until drain is called:
// a write to a named pipe of more than its 64 KiB buffer, which
// completes only once the reader has taken it all. drain reads it and
// returns once the write's op has completed.
func stuckWrite(t *testing.T, r *aio.Ring) (wr *aio.File, op *aio.Op, drain func()) {
	t.Helper()
	rd, wr := aioPipe(t, r)
	data := bytes.Repeat([]byte("barrier!"), 1<<17) // 1 MiB
	before := r.Stats().Submitted
	op, err := wr.StartWrite(data)
	if err != nil {
		t.Fatal(err)
	}
	waitSubmitted(t, r, before+1)
	drain = func() {
		t.Helper()
		got := make([]byte, len(data))
		for n := 0; n < len(got); {
			m, err := rd.Read(got[n:])
			if err != nil {
				t.Fatalf("draining the pipe: %v", err)
			}
			n += m
		}
		if n, err := op.Wait(); n != len(data) || err != nil {
			t.Fatalf("write = (%d, %v), want all %d bytes: nobody cancelled it", n, err, len(data))
		}
		if !bytes.Equal(got, data) {
			t.Fatal("the pipe delivered other bytes than were written")
		}
	}
	return wr, op, drain
}
