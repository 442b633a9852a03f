package aio_test

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/waitforit/aio"
	"github.com/waitforit/aio/aiotest"
)

// TestRingCloseRacesFileClose: Ring.Close and File.Close of a pipe with a
// read waiting in the netpoller, at once. Both end the read (rule 6);
// neither may touch the descriptor after the other released it.
func TestRingCloseRacesFileClose(t *testing.T) {
	for _, backend := range []string{"uring", "portable"} {
		t.Run(backend, func(t *testing.T) {
			if backend == "uring" {
				needURing(t)
			}
			for round := range aiotest.Scale(300) {
				r, err := aio.New(aio.Config{Backend: backend})
				if err != nil {
					t.Fatal(err)
				}
				pr, pw, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				f, err := r.NewFile(pr)
				pr.Close()
				if err != nil {
					t.Fatal(err)
				}
				read := make(chan error, 1)
				go func() {
					_, err := f.Read(make([]byte, 1))
					read <- err
				}()
				for r.Stats().InFlight == 0 {
					select {
					case err := <-read:
						t.Fatalf("round %d: the read returned before any data: %v", round, err)
					default:
						runtime.Gosched()
					}
				}
				var wg sync.WaitGroup
				wg.Go(func() { r.Close() })
				wg.Go(func() { f.Close() })
				wg.Wait()
				if err := <-read; !errors.Is(err, os.ErrClosed) {
					t.Fatalf("round %d: the read ended by the Closes = %v, want os.ErrClosed", round, err)
				}
				pw.Close()
			}
		})
	}
}
