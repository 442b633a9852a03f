//go:build !unix

package aio_test

import (
	"context"
	"net"
)

// rawListen and rawDial: BenchmarkEcho's RawConn floor is Unix's.
var (
	rawListen func(network, addr string) (net.Listener, error)
	rawDial   func(ctx context.Context, network, addr string) (net.Conn, error)
)
