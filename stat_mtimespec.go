//go:build darwin || freebsd || netbsd

package aio

import "syscall"

func statMtime(st *syscall.Stat_t) *syscall.Timespec { return &st.Mtimespec }
