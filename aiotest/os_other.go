//go:build !linux && !windows

package aiotest

import "errors"

const handleSlack = 0

// openHandles: no portable way to count descriptors here.
func openHandles() (int, bool) { return 0, false }

// thread: no way here to name a thread and watch it exit.
type thread struct{}

func currentThread() thread { return thread{} }
func (thread) isMain() bool { return false }
func (thread) waitGone() (bool, error) {
	return false, errors.New("cannot watch a thread exit on this system")
}

// evict is not possible here: the read may be served from the cache.
func evict(name string) (int, error) { return -1, nil }

// holdsTCPPort: no way to tell here which process holds a connection.
func holdsTCPPort(port int) (held, ok bool) { return false, false }

// tcpTables: no kernel table of TCP sockets to read here.
var tcpTables []string
