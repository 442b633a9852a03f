// Package wal is an example of testing code of your own against every
// outcome a cancel can have, with the simulator (aiotest.Explore).
//
// A write-ahead log appends framed records to a file. An append may be
// cancelled by its caller's context; a record that must be logged anyway
// is then retried (Durable). Whether the retry is right depends on what a
// cancelled append wrote: nothing, all of it, or part of it. AppendBuggy
// returns the context's error even after part of the frame reached the
// file, and the retry writes that part again: the log is corrupt. On a
// real kernel that needs a cancel to interrupt a write between two pages,
// which almost never happens in a test; on the simulator it happens within
// a few seeds (see wal_test.go). Append finishes a frame once it has begun
// it, so a cancelled Append has written nothing.
package wal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"

	"github.com/waitforit/aio"
)

// Log is an append-only file of frames: a 4-byte length, the CRC-32C of
// the payload, then the payload.
type Log struct {
	f *aio.File
}

// Create creates (or truncates) the log file name through r.
func Create(ctx context.Context, r *aio.Ring, name string) (*Log, error) {
	f, err := r.Open(ctx, name, os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &Log{f: f}, nil
}

// Close closes the log file.
func (l *Log) Close() error { return l.f.Close() }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func frame(rec []byte) []byte {
	b := make([]byte, 8, 8+len(rec))
	binary.LittleEndian.PutUint32(b, uint32(len(rec)))
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(rec, castagnoli))
	return append(b, rec...)
}

// write appends p, a write at a time (a write may be short). It starts
// each write and waits for it with ctx: if ctx ends, the write in flight
// is cancelled and waited for. It returns how much of p reached the file.
func (l *Log) write(ctx context.Context, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		op, err := l.f.StartWrite(p[n:])
		if err != nil {
			return n, err
		}
		m, err := op.WaitContext(ctx)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// AppendBuggy appends rec as one frame, giving up when ctx ends. The bug:
// when ctx ends after part of the frame was written, it returns ctx's
// error all the same, and a caller that takes that to mean "nothing was
// written" writes the part again.
func (l *Log) AppendBuggy(ctx context.Context, rec []byte) error {
	_, err := l.write(ctx, frame(rec))
	return err
}

// Append appends rec as one frame. If ctx ends before any of it is
// written, Append returns ctx's error and the log is as it was; once part
// of the frame is in the file, Append finishes it whatever ctx says (a
// torn frame would corrupt the log), and reports success.
func (l *Log) Append(ctx context.Context, rec []byte) error {
	fr := frame(rec)
	n, err := l.write(ctx, fr)
	if err != nil && n > 0 {
		_, err = l.write(context.WithoutCancel(ctx), fr[n:])
	}
	return err
}

// Durable appends rec with appendFn and makes sure it is logged even if
// ctx (the request that brought it) ends first: it then appends again
// with a context that does not end. It relies on appendFn's promise that
// a cancelled append wrote nothing.
func Durable(ctx context.Context, rec []byte, appendFn func(context.Context, []byte) error) error {
	err := appendFn(ctx, rec)
	if errors.Is(err, context.Canceled) {
		err = appendFn(context.WithoutCancel(ctx), rec)
	}
	return err
}

// Parse splits the contents of a log file into its records, checking
// every frame.
func Parse(data []byte) ([][]byte, error) {
	var recs [][]byte
	for off := 0; off < len(data); {
		if len(data)-off < 8 {
			return recs, fmt.Errorf("torn frame header at offset %d", off)
		}
		size := int(binary.LittleEndian.Uint32(data[off:]))
		sum := binary.LittleEndian.Uint32(data[off+4:])
		if size > len(data)-off-8 {
			return recs, fmt.Errorf("corrupt frame at offset %d: length %d past the end", off, size)
		}
		rec := data[off+8 : off+8+size]
		if crc32.Checksum(rec, castagnoli) != sum {
			return recs, fmt.Errorf("corrupt frame at offset %d: checksum mismatch", off)
		}
		recs = append(recs, rec)
		off += 8 + size
	}
	return recs, nil
}
