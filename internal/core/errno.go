package core

import "syscall"

const ecanceled = syscall.ECANCELED
