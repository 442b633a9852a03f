// Package bufreuse is an example of the bug checked ownership catches: a
// buffer reused while the write that owns it is still in flight.
//
// Logger writes lines to a file with StartWrite, keeping the previous
// write in flight while it formats the next line, to overlap the two.
// LogBuggy formats the next line into the buffer the previous write
// still owns: the file gets the new line's bytes where the old line's
// should be, now and then, depending on when the kernel copies them. The
// simulator catches it (it copies a write's data at a moment of its
// choosing and checks the buffer at completion), and so does any backend
// with checked ownership on (AIO_CHECK=1, or Config.Check): each write's
// buffer is checksummed at submission and at completion, and a mismatch
// panics, naming the write and where it was started. Log waits for the
// previous write before it touches the buffer; LogDoubleBuffered
// alternates two buffers, keeping the overlap.
package bufreuse

import "github.com/waitforit/aio"

// Logger appends lines to a file, one write in flight at a time.
type Logger struct {
	f    *aio.File
	bufs [2][]byte
	cur  int
	prev *aio.Op
}

// New returns a Logger writing at f's position (open it with O_APPEND).
func New(f *aio.File) *Logger { return &Logger{f: f} }

// LogBuggy starts writing line. The bug: it reuses the buffer of the
// previous write before that write has completed.
func (l *Logger) LogBuggy(line string) error {
	l.bufs[0] = append(append(l.bufs[0][:0], line...), '\n') // the previous write may still own this
	if err := l.wait(); err != nil {
		return err
	}
	return l.start(l.bufs[0])
}

// Log starts writing line, after the previous write has completed.
func (l *Logger) Log(line string) error {
	if err := l.wait(); err != nil {
		return err
	}
	l.bufs[0] = append(append(l.bufs[0][:0], line...), '\n')
	return l.start(l.bufs[0])
}

// LogDoubleBuffered starts writing line from the buffer the previous
// write does not own, so that formatting overlaps the write in flight.
func (l *Logger) LogDoubleBuffered(line string) error {
	l.cur ^= 1
	l.bufs[l.cur] = append(append(l.bufs[l.cur][:0], line...), '\n')
	if err := l.wait(); err != nil {
		return err
	}
	return l.start(l.bufs[l.cur])
}

func (l *Logger) start(p []byte) error {
	op, err := l.f.StartWrite(p)
	if err != nil {
		return err
	}
	l.prev = op
	return nil
}

// wait waits for the write in flight, if any (a short write is an error
// here, for brevity).
func (l *Logger) wait() error {
	if l.prev == nil {
		return nil
	}
	op := l.prev
	l.prev = nil
	_, err := op.Wait()
	return err
}

// Close waits for the last write.
func (l *Logger) Close() error { return l.wait() }
