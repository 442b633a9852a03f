//go:build wine

package iocp

// Built only with -tags wine, as scripts/test-windows.sh builds the test
// binaries: Wine 8.0 lacks FileDispositionInformationEx and answers
// STATUS_NOT_IMPLEMENTED, which os.RemoveAll (Go >= 1.26) does not take
// as "fall back", so every t.TempDir cleanup (and every RemoveAll of a
// directory with files) fails under it. This turns on the fallback Go
// keeps for old Windows versions and file systems, in every binary that
// links the aio package. Pulling a standard library variable needs
// -ldflags=-checklinkname=0.

import _ "unsafe"

//go:linkname testDeleteatFallback internal/syscall/windows.TestDeleteatFallback
var testDeleteatFallback bool

func init() { testDeleteatFallback = true }
