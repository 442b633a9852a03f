package uring

import (
	"testing"

	"golang.org/x/sys/unix"
)

func setup(t *testing.T, entries uint32) *Ring {
	t.Helper()
	var p Params
	r, err := Setup(entries, &p)
	if err != nil {
		t.Fatalf("io_uring_setup: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// drain consumes every ready CQE into a map of user_data -> res.
func drain(r *Ring, got map[uint64]int32) {
	for n := r.CQReady(); n > 0; n = r.CQReady() {
		for i := range n {
			c := r.PeekCQE(i)
			got[c.UserData] = c.Res
		}
		r.Advance(n)
	}
}

func TestNopRoundTrip(t *testing.T) {
	r := setup(t, 4)
	if r.Params.Features&FeatNodrop == 0 {
		t.Skip("kernel without IORING_FEAT_NODROP")
	}
	for i := range 3 {
		sqe := r.GetSQE()
		sqe.PrepNop()
		sqe.UserData = uint64(100 + i)
	}
	if n := r.Publish(); n != 3 {
		t.Fatalf("Publish = %d, want 3", n)
	}
	if n, err := r.Enter(3, 3, EnterGetevents, nil, 0); n != 3 || err != nil {
		t.Fatalf("Enter = (%d, %v)", n, err)
	}
	got := map[uint64]int32{}
	drain(r, got)
	for i := range 3 {
		if res, ok := got[uint64(100+i)]; !ok || res != 0 {
			t.Errorf("NOP %d: res %d, seen %v", i, res, ok)
		}
	}
}

func TestSQFull(t *testing.T) {
	r := setup(t, 4)
	n := 0
	for r.GetSQE() != nil {
		n++
	}
	if n != int(r.Params.SQEntries) {
		t.Fatalf("got %d SQEs from a %d-entry SQ", n, r.Params.SQEntries)
	}
}

// TestCQOverflowKeepsEverything posts far more completions than the CQ
// holds: with FEAT_NODROP none is lost, the overflow flag is raised, and
// GETEVENTS moves the rest in as the CQ is drained.
func TestCQOverflowKeepsEverything(t *testing.T) {
	r := setup(t, 4) // CQ of 8
	const total = 64
	got := map[uint64]int32{}
	for sent := 0; sent < total; {
		for sqe := r.GetSQE(); sqe != nil && sent < total; sqe = r.GetSQE() {
			sqe.PrepNop()
			sqe.UserData = uint64(sent + 1)
			sent++
		}
		r.Publish()
		for r.SQPending() > 0 {
			if _, err := r.Enter(r.SQPending(), 0, 0, nil, 0); err != nil {
				t.Fatalf("Enter: %v", err)
			}
		}
	}
	if r.SQFlags()&SQCQOverflow == 0 {
		t.Error("no overflow flag after 64 completions into an 8-entry CQ")
	}
	for len(got) < total {
		drain(r, got)
		if _, err := r.Enter(0, 0, EnterGetevents, nil, 0); err != nil && err != unix.EINTR {
			t.Fatalf("Enter(GETEVENTS): %v", err)
		}
		if r.CQReady() == 0 && r.SQFlags()&SQCQOverflow == 0 {
			drain(r, got)
			break
		}
	}
	if len(got) != total || r.Overflow() != 0 {
		t.Fatalf("got %d of %d completions, %d dropped", len(got), total, r.Overflow())
	}
}

// TestCancelKinds cancels reads blocked on a pipe by user_data, by fd
// (all), and everything (any).
func TestCancelKinds(t *testing.T) {
	r := setup(t, 16)
	probe, err := r.Probe()
	if err != nil || !probe.Supported(OpRead) || !probe.Supported(OpAsyncCancel) {
		t.Fatalf("probe: %v", err)
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	buf := make([]byte, 4*8)
	read := func(ud uint64) {
		sqe := r.GetSQE()
		sqe.PrepRead(int32(p[0]), buf[ud*8-8:ud*8], ^uint64(0))
		sqe.UserData = ud
	}
	cancel := func(prep func(*SQE)) {
		sqe := r.GetSQE()
		prep(sqe)
		sqe.UserData = 99
	}
	submit := func() {
		r.Publish()
		for r.SQPending() > 0 {
			if _, err := r.Enter(r.SQPending(), 0, 0, nil, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	wait := func(want ...uint64) map[uint64]int32 {
		got := map[uint64]int32{}
		for {
			drain(r, got)
			all := true
			for _, w := range want {
				if _, ok := got[w]; !ok {
					all = false
				}
			}
			if all {
				return got
			}
			if _, err := r.Enter(0, 1, EnterGetevents, nil, 0); err != nil && err != unix.EINTR {
				t.Fatal(err)
			}
		}
	}
	ecanceled := -int32(unix.ECANCELED)

	read(1)
	submit()
	cancel(func(s *SQE) { s.PrepCancel(1, 0) })
	submit()
	if got := wait(1, 99); got[1] != ecanceled || got[99] != 0 {
		t.Errorf("cancel by user_data: read %d, cancel %d", got[1], got[99])
	}
	read(2)
	read(3)
	submit()
	cancel(func(s *SQE) { s.PrepCancelFD(int32(p[0]), AsyncCancelAll) })
	submit()
	if got := wait(2, 3, 99); got[2] != ecanceled || got[3] != ecanceled || got[99] != 2 {
		t.Errorf("cancel by fd: reads %d %d, cancel %d (want 2 cancelled)", got[2], got[3], got[99])
	}
	read(4)
	submit()
	cancel(func(s *SQE) { s.PrepCancelAny() })
	submit()
	if got := wait(4, 99); got[4] != ecanceled || got[99] != 1 {
		t.Errorf("cancel any: read %d, cancel %d", got[4], got[99])
	}
}
