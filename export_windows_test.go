package aio

import "github.com/waitforit/aio/internal/backend/iocp"

// IOCPModeForTest names how the iocp backend drives f's handle: "port",
// "event" or "blocking" ("" on other backends).
func IOCPModeForTest(f *File) string { return iocp.Mode(f.handle) }
