package main

import (
	"fmt"
	"io"
	"time"
)

// progress tells a person what the tool is doing. On a terminal it keeps
// one status line up to date; otherwise it prints one plain line per run.
// A nil *progress says nothing.
type progress struct {
	w           io.Writer
	tty         bool
	start       time.Time
	total, done int
	shown       bool // a status line is on screen (tty)
}

// newProgress writes to w; tty says whether w is a terminal.
func newProgress(w io.Writer, tty bool) *progress {
	return &progress{w: w, tty: tty, start: time.Now()}
}

// status replaces the status line (terminal only).
func (p *progress) status(format string, args ...any) {
	if p == nil || !p.tty {
		return
	}
	msg := fmt.Sprintf("[%3d/%d %5.1fs] ", p.done, p.total, time.Since(p.start).Seconds()) + fmt.Sprintf(format, args...)
	if r := []rune(msg); len(r) > 120 {
		msg = string(r[:117]) + "..."
	}
	fmt.Fprint(p.w, "\r\x1b[K"+msg)
	p.shown = true
}

// line prints a line that stays.
func (p *progress) line(format string, args ...any) {
	if p == nil {
		return
	}
	p.clear()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// clear removes the status line.
func (p *progress) clear() {
	if p != nil && p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

// runStarted announces a run.
func (p *progress) runStarted(label string) { p.status("%s ...", label) }

// runFinished reports a run's outcome.
func (p *progress) runFinished(label, summary string) {
	if p == nil {
		return
	}
	p.done++
	if p.tty {
		p.status("%s: %s", label, summary)
		return
	}
	fmt.Fprintf(p.w, "[%3d/%d %5.1fs] %s: %s\n", p.done, p.total, time.Since(p.start).Seconds(), label, summary)
}

// skip counts a run that is not done (its implementation is n/a).
func (p *progress) skip() {
	if p != nil {
		p.done++
	}
}

// summarizeRound is a run's one-line summary.
func summarizeRound(r roundResult) string {
	s := fmt.Sprintf("%s ops/s", fmtCount(r.OpsPerSec))
	if r.OpsPerCPUSec > 0 {
		s += fmt.Sprintf(", %s ops/cpu-s", fmtCount(r.OpsPerCPUSec))
	}
	return s + fmt.Sprintf(", p50 %s p99 %s", fmtNs(r.P50Ns), fmtNs(r.P99Ns))
}
