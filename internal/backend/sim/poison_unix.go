//go:build unix

package sim

import "bytes"

// poisonBlock is the pattern a read's buffer holds while the read is in
// flight: 0xdeadbeef, over and over, from the buffer's first byte. A
// caller that looks before the completion sees it.
var poisonBlock = bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 1024)

func poison(p []byte) {
	for len(p) > 0 {
		p = p[copy(p, poisonBlock):]
	}
}

// isPoison reports whether p still holds the poison pattern: nobody but
// the simulator wrote to it.
func isPoison(p []byte) bool {
	for len(p) > 0 {
		n := min(len(p), len(poisonBlock))
		if !bytes.Equal(p[:n], poisonBlock[:n]) {
			return false
		}
		p = p[n:]
	}
	return true
}
