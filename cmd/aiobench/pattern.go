package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"unsafe"
)

// blockSize is the unit of every file workload: 4 KiB, the page size and
// the O_DIRECT alignment.
const blockSize = 4096

// Every 4 KiB block of a data file is a 16-byte header followed by a body:
//
//	bytes 0..7    the block's index (little endian)
//	bytes 8..15   the block's generation (0 for the read-only data file,
//	              the write's sequence number in the write workload),
//	              mixed with the index so a zero block never passes
//	bytes 16..    the body of template index%templateCount
//
// A read that returns the wrong block, a stale or torn write, or zeros
// fails the header check; a corrupted body fails a bytes.Equal against
// the template, which is SIMD-fast, so verifying every read costs far less
// than the read itself.
const (
	headerSize    = 16
	templateCount = 61 // prime: consecutive blocks get different bodies
	genMix        = 0x9e3779b97f4a7c15
)

// pattern holds the block templates. It is immutable once built.
type pattern struct {
	templates [templateCount][blockSize]byte
}

// newPattern builds the templates from a fixed seed, so a data file can
// be checked by any run.
func newPattern() *pattern {
	p := new(pattern)
	rng := rand.New(rand.NewPCG(0xa10b, 0xe7c4))
	for i := range p.templates {
		t := p.templates[i][:]
		for j := 0; j < len(t); j += 8 {
			binary.LittleEndian.PutUint64(t[j:], rng.Uint64())
		}
	}
	return p
}

// fill writes block's contents for generation gen into dst (blockSize bytes).
func (p *pattern) fill(dst []byte, block, gen uint64) {
	dst = dst[:blockSize]
	binary.LittleEndian.PutUint64(dst[0:], block)
	binary.LittleEndian.PutUint64(dst[8:], gen^(block*genMix)^genMix)
	copy(dst[headerSize:], p.templates[block%templateCount][headerSize:])
}

// verify checks that buf holds block at generation gen.
func (p *pattern) verify(buf []byte, block, gen uint64) error {
	if len(buf) != blockSize {
		return fmt.Errorf("block %d: got %d bytes, want %d", block, len(buf), blockSize)
	}
	gotBlock := binary.LittleEndian.Uint64(buf[0:])
	gotGen := binary.LittleEndian.Uint64(buf[8:]) ^ (gotBlock * genMix) ^ genMix
	if gotBlock != block || gotGen != gen {
		return fmt.Errorf("block %d gen %d: header says block %d gen %d (raw %x)",
			block, gen, gotBlock, gotGen, buf[:headerSize])
	}
	if want := p.templates[block%templateCount][headerSize:]; !bytes.Equal(buf[headerSize:], want) {
		i := headerSize
		for buf[i] == want[i-headerSize] {
			i++
		}
		return fmt.Errorf("block %d gen %d: byte %d is %#02x, want %#02x", block, gen, i, buf[i], want[i-headerSize])
	}
	return nil
}

// createDataFile writes a file of blocks blocks at generation 0, in 1 MiB
// writes, and syncs it, so that O_DIRECT reads later measure the disk and
// not writeback.
func createDataFile(ctx context.Context, name string, blocks int64, p *pattern) error {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	const chunkBlocks = 256
	buf := make([]byte, chunkBlocks*blockSize)
	for b := int64(0); b < blocks; b += chunkBlocks {
		if err := ctx.Err(); err != nil {
			f.Close()
			return err
		}
		n := min(chunkBlocks, blocks-b)
		for i := range n {
			p.fill(buf[i*blockSize:], uint64(b+i), 0)
		}
		if _, err := f.Write(buf[:n*blockSize]); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// alignedBlocks returns n blocks of memory aligned to blockSize, as
// O_DIRECT requires, carved out of one over-allocated Go slice.
func alignedBlocks(n int) [][]byte {
	raw := make([]byte, (n+1)*blockSize)
	skip := 0
	if r := int(uintptr(unsafe.Pointer(&raw[0])) % blockSize); r != 0 {
		skip = blockSize - r
	}
	out := make([][]byte, n)
	for i := range out {
		start := skip + i*blockSize
		out[i] = raw[start : start+blockSize : start+blockSize]
	}
	return out
}
