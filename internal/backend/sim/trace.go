package sim

import "fmt"

// Event is one outcome the simulator delivered.
type Event struct {
	Seq    uint64 // the operation's submission number in its ring (1, 2, ...)
	Kind   string // "read", "write", ...
	Res    int32  // the kernel's result: a count, or -errno
	Cancel bool   // a cancel had been requested
	How    string // what the simulator decided: "ran", "short", "cancel won", ...
}

func (e Event) String() string {
	return fmt.Sprintf("#%d %s = %d (cancel %v: %s)", e.Seq, e.Kind, e.Res, e.Cancel, e.How)
}
