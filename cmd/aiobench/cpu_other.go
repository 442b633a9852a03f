//go:build !unix && !windows

package main

import "time"

// cpuTime is unknown on this platform.
func cpuTime() (time.Duration, bool) { return 0, false }

// ctxSwitches is unknown on this platform.
func ctxSwitches() (uint64, bool) { return 0, false }
