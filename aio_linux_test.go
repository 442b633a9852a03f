package aio_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/waitforit/aio"
)

func TestUnsupportedOpcode(t *testing.T) {
	r, err := aio.New(aio.Config{Backend: "uring"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	name := t.TempDir() + "/f"
	os.WriteFile(name, []byte("data"), 0o644)
	f, err := r.Open(context.Background(), name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !aio.DisableReadForTest(r) {
		t.Fatal("the uring driver has no opcode switch")
	}
	buf := []byte("untouched")
	before := r.Stats()
	_, err = f.ReadAt(buf, 0)
	if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "IORING_OP_READ") {
		t.Errorf("ReadAt with READ unsupported = %v; want errors.ErrUnsupported naming IORING_OP_READ", err)
	}
	op, err := f.StartRead(buf)
	if op != nil || !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("StartRead = %v, %v", op, err)
	}
	var ue *aio.UnsupportedError
	if !errors.As(err, &ue) || ue.Op != "IORING_OP_READ" || ue.Backend != "uring" {
		t.Errorf("error %v is not an *UnsupportedError naming the opcode", err)
	}
	if r.Stats().Submitted != before.Submitted || string(buf) != "untouched" {
		t.Error("an unsupported operation was submitted")
	}
}
