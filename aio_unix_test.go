package aio_test

import "syscall"

var errSyscallECANCELED error = syscall.ECANCELED
