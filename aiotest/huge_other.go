//go:build !linux

package aiotest

import (
	"testing"

	"github.com/waitforit/aio"
)

func testHugeBuffer(t *testing.T, f *aio.File) {}
