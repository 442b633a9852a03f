//go:build unix

package sim

import (
	"fmt"
	"hash/fnv"
)

// traceKeep bounds the events a trace keeps; the hash covers them all.
const traceKeep = 4096

// trace is the record of delivered outcomes, in delivery order.
type trace struct {
	events []Event // the last traceKeep, as a ring from next
	next   int
	total  uint64
	hash   uint64
}

func (t *trace) add(e Event) {
	h := fnv.New64a()
	fmt.Fprintf(h, "%x|%s", t.hash, e)
	t.hash = h.Sum64()
	t.total++
	if len(t.events) < traceKeep {
		t.events = append(t.events, e)
		return
	}
	t.events[t.next] = e
	t.next = (t.next + 1) % traceKeep
}

func (t *trace) snapshot() ([]Event, uint64, uint64) {
	out := make([]Event, 0, len(t.events))
	out = append(out, t.events[t.next:]...)
	out = append(out, t.events[:t.next]...)
	return out, t.total, t.hash
}
