package aio_test

// The backends the backend-neutral tests run on, by system.

// ringBackends are the backends a test of a Ring's own life runs on.
var ringBackends = []string{"uring", "portable"}

// socketBackends are the backends whose sockets are tested.
// "uring-ring" is io_uring with every send and receive through the ring
// (by default those the kernel can do at once skip it).
var socketBackends = []string{"uring", "uring-ring", "portable"}

// socketNetworks are the networks Ring.Listen and Ring.DialContext serve.
var socketNetworks = []string{"tcp", "unix"}
