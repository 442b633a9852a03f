package main

import (
	"math/bits"
	"time"
)

// Latency histogram: log-linear buckets in the HDR style. Values below
// 2^subBits nanoseconds get one bucket each; above that every power of
// two is split into 2^subBits equal buckets, so a bucket is never wider
// than 1/32 (about 3%) of the values in it. Recording is a handful of
// instructions and no allocation, so it can sit on every operation.
const (
	subBits     = 5
	subCount    = 1 << subBits
	bucketCount = (64 - subBits + 1) * subCount
)

// histogram counts latencies in nanoseconds. Its zero value is empty and
// ready; it is not safe for concurrent use (each worker keeps its own and
// they are merged when the run ends).
type histogram struct {
	counts [bucketCount]uint64
	total  uint64
	max    uint64
}

// bucketOf returns the bucket index of v.
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	e := bits.Len64(v) - 1 // v in [2^e, 2^(e+1)), e >= subBits
	m := (v >> (e - subBits)) & (subCount - 1)
	return (e-subBits+1)*subCount + int(m)
}

// bucketBounds returns the smallest and largest value of bucket i.
func bucketBounds(i int) (lo, hi uint64) {
	if i < subCount {
		return uint64(i), uint64(i)
	}
	e := i/subCount + subBits - 1
	m := uint64(i % subCount)
	width := uint64(1) << (e - subBits)
	lo = (subCount + m) << (e - subBits)
	return lo, lo + width - 1
}

// record adds one latency.
func (h *histogram) record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[bucketOf(v)]++
	h.total++
	if v > h.max {
		h.max = v
	}
}

// merge adds o's counts to h.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.max = max(h.max, o.max)
}

// quantile returns the latency below which a fraction q of the recorded
// values lie (the middle of the bucket that holds that rank), or 0 if
// nothing was recorded.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total) + 0.5)
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketBounds(i)
			return time.Duration(min(lo+(hi-lo)/2, h.max))
		}
	}
	return time.Duration(h.max)
}

// cdfPoint is one step of a cumulative latency distribution: count values
// were at most upper nanoseconds.
type cdfPoint struct {
	UpperNs uint64 `json:"upper_ns"`
	Count   uint64 `json:"count"`
}

// cdf returns the cumulative distribution over the non-empty buckets, for
// plotting (a -report would draw these).
func (h *histogram) cdf() []cdfPoint {
	var out []cdfPoint
	var seen uint64
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		seen += c
		_, hi := bucketBounds(i)
		out = append(out, cdfPoint{UpperNs: hi, Count: seen})
	}
	return out
}
