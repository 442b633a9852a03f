//go:build !windows

package main

import "time"

// clockBase is the start of a run's clock.
type clockBase = time.Time

func newClockBase() clockBase { return time.Now() }

// since is the time since b: one monotonic clock read.
func since(b clockBase) time.Duration { return time.Since(b) }
