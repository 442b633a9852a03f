package main

import (
	"time"

	"golang.org/x/sys/windows"
)

// cpuTime returns the user and kernel CPU time the process has used so
// far, all threads together (GetProcessTimes).
func cpuTime() (time.Duration, bool) {
	var creation, exit, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(windows.CurrentProcess(), &creation, &exit, &kernel, &user); err != nil {
		return 0, false
	}
	ticks := func(f windows.Filetime) int64 { return int64(f.HighDateTime)<<32 | int64(f.LowDateTime) }
	return time.Duration((ticks(kernel) + ticks(user)) * 100), true // FILETIME counts 100 ns
}

// ctxSwitches is unknown here: Windows counts context switches per
// thread only, in performance counters this tool does not read.
func ctxSwitches() (uint64, bool) { return 0, false }
