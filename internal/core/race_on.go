//go:build race

package core

import (
	"runtime"
	"unsafe"
)

// The kernel orders a submitter's reads of a record before the reaper's
// completion of it (SQ tail store, kernel, CQ tail load), but the race
// detector cannot see through the kernel. These annotations tell it.
func raceRelease(r *Record) { runtime.RaceReleaseMerge(unsafe.Pointer(r)) }
func raceAcquire(r *Record) { runtime.RaceAcquire(unsafe.Pointer(r)) }
