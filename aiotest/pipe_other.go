//go:build !windows

package aiotest

import (
	"os"
	"testing"

	"github.com/waitforit/aio"
)

// pipe returns the read end of a fresh pipe as an aio.File and the write
// end as an *os.File; both are closed at the end of the test.
func pipe(t *testing.T, r *aio.Ring) (*aio.File, *os.File) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	af, err := r.NewFile(pr)
	pr.Close() // af has its own descriptor
	if err != nil {
		pw.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		af.Close()
		pw.Close()
	})
	return af, pw
}

// aioPipe returns both ends of a fresh pipe as aio.Files: reads on the
// first, writes on the second.
func aioPipe(t *testing.T, r *aio.Ring) (rd, wr *aio.File) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if rd, err = r.NewFile(pr); err != nil {
		t.Fatal(err)
	}
	if wr, err = r.NewFile(pw); err != nil {
		rd.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rd.Close()
		wr.Close()
	})
	return rd, wr
}
