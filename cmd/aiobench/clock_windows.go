package main

import (
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// On Windows the runtime's monotonic clock is the interrupt time, which
// moves at the timer interrupt (0.5 to 15.6 ms, and coarser under Wine):
// most microsecond latencies would read 0. The run's clock is the
// performance counter, as the testing package's is.

var (
	procQPC  = windows.NewLazySystemDLL("kernel32.dll").NewProc("QueryPerformanceCounter")
	procQPF  = windows.NewLazySystemDLL("kernel32.dll").NewProc("QueryPerformanceFrequency")
	qpcHertz = func() int64 {
		var f int64
		if r, _, _ := syscall.SyscallN(procQPF.Addr(), uintptr(unsafe.Pointer(&f))); r == 0 || f <= 0 {
			panic("aiobench: no performance counter")
		}
		return f
	}()
)

func qpc() int64 {
	var c int64
	syscall.SyscallN(procQPC.Addr(), uintptr(unsafe.Pointer(&c)))
	return c
}

// clockBase is the start of a run's clock: a performance counter reading.
type clockBase int64

func newClockBase() clockBase { return clockBase(qpc()) }

// since is the time since b.
func since(b clockBase) time.Duration {
	d := qpc() - int64(b)
	return time.Duration(d/qpcHertz*int64(time.Second) + d%qpcHertz*int64(time.Second)/qpcHertz)
}
