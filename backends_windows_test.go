package aio_test

// The backends the backend-neutral tests run on, by system: on Windows,
// completion ports only (io_uring is Linux's, the portable backend
// needs Unix's netpoller and pread).

// ringBackends are the backends a test of a Ring's own life runs on.
var ringBackends = []string{"iocp"}

// socketBackends are the backends whose sockets are tested.
var socketBackends = []string{"iocp"}

// socketNetworks are the networks Ring.Listen and Ring.DialContext serve:
// on Windows, TCP only (no Unix-domain sockets yet).
var socketNetworks = []string{"tcp"}
