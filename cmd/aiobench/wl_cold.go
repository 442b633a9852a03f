package main

import (
	"fmt"
	"os"
)

// coldFile is the file of the cold workload: a data file like the
// read workloads', evicted from the page cache before each run.
type coldFile struct {
	name   string // "" if it cannot be used here: see why
	blocks int64
	why    string
}

// coldUsable says why a file in dir cannot be evicted from the page
// cache here, or "" if it can.
func coldUsable(dir string, ramFS bool) string {
	switch {
	case errEvict != nil:
		return errEvict.Error()
	case ramFS:
		return fmt.Sprintf("%s is a RAM file system: its files cannot leave memory (use -dir)", dir)
	}
	return ""
}

// maxResidentAfterEvict is the fraction of the cold file that may still
// be cached after the eviction: none should be.
const maxResidentAfterEvict = 0.01

// runCold: callers goroutines doing random 4 KiB buffered ReadAt calls
// (not O_DIRECT) on a file evicted from the page cache just before the
// run, every block verified: reads that wait for the disk, as a server
// reading files too big for its memory does. The eviction (fsync, then
// posix_fadvise DONTNEED) is checked with mincore; the extras count the
// pages cached after it and at the end of the run (the reads bring
// their pages in, and the kernel may read ahead), summed over rounds
// with the file's pages.
func runCold(rc *runCtx, callers int) (runStats, error) {
	c := rc.env.cold
	if c.name == "" {
		return runStats{}, &notApplicable{reason: c.why}
	}
	f, _, err := rc.open(c.name, os.O_RDONLY)
	if err != nil {
		return runStats{}, err
	}
	size := c.blocks * blockSize
	if err := evictFile(c.name); err != nil {
		return runStats{}, err
	}
	before, total, err := fileResidency(c.name, size)
	if err != nil {
		return runStats{}, fmt.Errorf("residency of %s after the eviction: %v", c.name, err)
	}
	if float64(before) > maxResidentAfterEvict*float64(total) {
		return runStats{}, fmt.Errorf("%d of %d pages of %s still cached after the eviction: its reads would not reach the disk", before, total, c.name)
	}
	st, err := readAtWorkers(rc, f, uint64(c.blocks), callers)
	if err != nil {
		return st, err
	}
	after, _, err := fileResidency(c.name, size)
	if err != nil {
		return st, fmt.Errorf("residency of %s after the run: %v", c.name, err)
	}
	st.extra = map[string]float64{
		"file_pages": float64(total), "cached_pages_after_evict": float64(before), "cached_pages_at_end": float64(after),
	}
	return st, nil
}
