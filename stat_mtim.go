//go:build openbsd || dragonfly

package aio

import "syscall"

func statMtime(st *syscall.Stat_t) *syscall.Timespec { return &st.Mtim }
