package aio_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/waitforit/aio"
)

// A read blocked on an empty pipe, abandoned by its context: ReadContext
// requests the cancel, waits for the kernel's completion, and only then
// returns. The buffer is the caller's again; data written later goes to
// the next read, never into the abandoned buffer.
func Example() {
	ring, err := aio.New(aio.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ring.Close()

	pr, pw, _ := os.Pipe()
	defer pw.Close()
	f, err := ring.NewFile(pr)
	pr.Close()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()

	buf := make([]byte, 64)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	n, err := f.ReadContext(ctx, buf)
	fmt.Println(n, errors.Is(err, context.DeadlineExceeded), errors.Is(err, aio.ErrCanceled))

	pw.Write([]byte("hello"))
	n, err = f.Read(buf)
	fmt.Println(string(buf[:n]), err)
	// Output:
	// 0 true true
	// hello <nil>
}

// The asynchronous layer: many reads in flight from one goroutine.
func ExampleFile_StartReadAt() {
	ring, err := aio.New(aio.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ring.Close()
	name := os.TempDir() + "/aio-example"
	os.WriteFile(name, []byte("0123456789abcdef"), 0o644)
	defer os.Remove(name)
	f, err := ring.Open(context.Background(), name, os.O_RDONLY, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()

	bufs := make([][]byte, 4)
	ops := make([]*aio.Op, 4)
	for i := range ops {
		bufs[i] = make([]byte, 4) // owned by ops[i] until it completes
		ops[i], _ = f.StartReadAt(bufs[i], int64(4*i))
	}
	for i, op := range ops {
		n, err := op.Wait()
		fmt.Println(string(bufs[i][:n]), err)
	}
	// Output:
	// 0123 <nil>
	// 4567 <nil>
	// 89ab <nil>
	// cdef <nil>
}
