//go:build !linux && !windows

package aio_test

// The backends the backend-neutral tests run on, by system: io_uring is
// Linux's, completion ports are Windows'.

// ringBackends are the backends a test of a Ring's own life runs on.
var ringBackends = []string{"portable"}

// socketBackends are the backends whose sockets are tested.
var socketBackends = []string{"portable"}

// socketNetworks are the networks Ring.Listen and Ring.DialContext serve.
var socketNetworks = []string{"tcp", "unix"}
