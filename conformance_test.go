package aio_test

import (
	"testing"

	"github.com/waitforit/aio/aiotest"
)

func TestMain(m *testing.M) { aiotest.Main(m) }
