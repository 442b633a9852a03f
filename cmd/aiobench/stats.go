package main

import (
	"maps"
	"runtime"
	"slices"
	"sort"
	"time"
)

// sample is the process's counters at one instant; two samples around a
// run give its cost.
type sample struct {
	wall    time.Time
	cpu     time.Duration
	cpuOK   bool
	mallocs uint64
	csw     uint64 // context switches of the process (see ctxSwitches)
	cswOK   bool
	threads map[int]uint64 // thread id -> activity counter (see threadSnapshot)

	sysBusy, sysSteal time.Duration // the whole machine's (see systemCPU)
	sysOK             bool
}

// takeSample reads the counters. Threads are read first and wall time
// last, so the snapshotting itself stays outside a measured window that
// starts here (and the reverse order is used at its end: see endSample).
func takeSample() sample {
	var s sample
	s.threads = threadSnapshot()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.mallocs = ms.Mallocs
	s.sysBusy, s.sysSteal, s.sysOK = systemCPU()
	s.csw, s.cswOK = ctxSwitches()
	s.cpu, s.cpuOK = cpuTime()
	s.wall = time.Now()
	return s
}

// endSample is takeSample in the reverse order.
func endSample() sample {
	var s sample
	s.wall = time.Now()
	s.cpu, s.cpuOK = cpuTime()
	s.csw, s.cswOK = ctxSwitches()
	s.sysBusy, s.sysSteal, s.sysOK = systemCPU()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.mallocs = ms.Mallocs
	s.threads = threadSnapshot()
	return s
}

// activeThreads counts the threads that ran between two snapshots, and
// the threads alive at the end; -1 when the platform cannot tell.
func activeThreads(before, after map[int]uint64) (active, total int) {
	if before == nil || after == nil {
		return -1, -1
	}
	for tid, a := range after {
		if b, ok := before[tid]; !ok || a != b {
			active++
		}
	}
	return active, len(after)
}

// roundResult is one run of one implementation on one workload.
type roundResult struct {
	Round         int                `json:"round"`
	Ops           uint64             `json:"ops"`
	Seconds       float64            `json:"seconds"`
	CPUSeconds    float64            `json:"cpu_seconds"` // -1: unknown
	OpsPerSec     float64            `json:"ops_per_sec"`
	OpsPerCPUSec  float64            `json:"ops_per_cpu_sec"` // 0: unknown
	P50Ns         float64            `json:"p50_ns"`
	P99Ns         float64            `json:"p99_ns"`
	P999Ns        float64            `json:"p999_ns"`
	AllocsPerOp   float64            `json:"allocs_per_op"`
	ThreadsActive int                `json:"threads_active"` // threads that ran during the window; -1: unknown
	ThreadsTotal  int                `json:"threads_total"`  // threads of the process at its end
	CtxSwitches   int64              `json:"ctx_switches"`   // the process's, voluntary and involuntary; -1: unknown
	CswPerOp      float64            `json:"csw_per_op"`     // CtxSwitches / Ops; -1: unknown
	Mech          *mechCounts        `json:"mech,omitempty"` // which mechanism served aio's operations
	OtherCPUs     float64            `json:"other_cpus"`     // CPUs busy with other processes on average; -1: unknown
	StealCPUs     float64            `json:"steal_cpus"`     // CPUs stolen by the hypervisor on average; -1: unknown
	Extra         map[string]float64 `json:"extra,omitempty"`

	hist *histogram
}

// newRoundResult computes a round's figures from the samples around its
// measured window and what its workers counted.
func newRoundResult(round int, begin, end sample, st runStats) roundResult {
	r := roundResult{Round: round, Ops: st.ops, Extra: st.extra, hist: st.hist, CPUSeconds: -1}
	r.Seconds = end.wall.Sub(begin.wall).Seconds()
	if r.Seconds > 0 {
		r.OpsPerSec = float64(st.ops) / r.Seconds
	}
	if begin.cpuOK && end.cpuOK {
		r.CPUSeconds = (end.cpu - begin.cpu).Seconds()
		if r.CPUSeconds > 0 {
			r.OpsPerCPUSec = float64(st.ops) / r.CPUSeconds
		}
	}
	if st.ops > 0 {
		r.AllocsPerOp = float64(end.mallocs-begin.mallocs) / float64(st.ops)
	}
	if st.hist != nil {
		r.P50Ns = float64(st.hist.quantile(0.50))
		r.P99Ns = float64(st.hist.quantile(0.99))
		r.P999Ns = float64(st.hist.quantile(0.999))
	}
	r.ThreadsActive, r.ThreadsTotal = activeThreads(begin.threads, end.threads)
	r.CtxSwitches, r.CswPerOp = -1, -1
	if begin.cswOK && end.cswOK {
		r.CtxSwitches = int64(end.csw - begin.csw)
		if st.ops > 0 {
			r.CswPerOp = float64(r.CtxSwitches) / float64(st.ops)
		}
	}
	r.OtherCPUs, r.StealCPUs = -1, -1
	if begin.sysOK && end.sysOK && r.CPUSeconds >= 0 && r.Seconds > 0 {
		// /proc/stat counts in 10 ms ticks: over a 1 s window this is
		// good to a few hundredths of a CPU.
		r.OtherCPUs = max(0, (end.sysBusy-begin.sysBusy).Seconds()-r.CPUSeconds) / r.Seconds
		r.StealCPUs = (end.sysSteal - begin.sysSteal).Seconds() / r.Seconds
	}
	return r
}

// row is one implementation's line in a workload's table: the medians of
// its rounds, and their merged latency distribution.
type row struct {
	Impl   string        `json:"impl"`
	Kind   string        `json:"kind"`         // "aio", "std", "fio" or "floor"
	NA     string        `json:"na,omitempty"` // why it did not run
	Rounds []roundResult `json:"rounds,omitempty"`

	OpsPerSec     float64 `json:"ops_per_sec"`
	OpsPerCPUSec  float64 `json:"ops_per_cpu_sec"`
	P50Ns         float64 `json:"p50_ns"`
	P99Ns         float64 `json:"p99_ns"`
	P999Ns        float64 `json:"p999_ns"`
	AllocsPerOp   float64 `json:"allocs_per_op"`   // -1: unknown (fio)
	ThreadsActive int     `json:"threads_active"`  // -1: unknown
	ThreadsTotal  int     `json:"threads_total"`   // -1: unknown
	CswPerOp      float64 `json:"csw_per_op"`      // context switches of the process per op; -1: unknown
	Spread        float64 `json:"ops_spread"`      // (max-min)/median of ops/s over the rounds
	Ratio         float64 `json:"ratio,omitempty"` // ops/s over the baseline's; 0: n/a
	CPURatio      float64 `json:"cpu_ratio,omitempty"`
	P50Ratio      float64 `json:"p50_ratio,omitempty"` // p50 over the baseline's, for latency workloads; 0: n/a
	P99Ratio      float64 `json:"p99_ratio,omitempty"`

	// Mech says which mechanism served an aio row's operations (see
	// mechCounts.String), from MechCounts, its counts summed over the
	// rounds. Empty for the others.
	Mech       string      `json:"mech,omitempty"`
	MechCounts *mechCounts `json:"mech_counts,omitempty"`

	Latency []cdfPoint         `json:"latency_cdf,omitempty"` // all rounds merged, for plots
	Extra   map[string]float64 `json:"extra,omitempty"`       // summed over rounds
}

// median returns the median of xs (the mean of the middle two for an
// even count), or 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// aggregate fills r's summary fields from its rounds.
func (r *row) aggregate() {
	if len(r.Rounds) == 0 {
		return
	}
	pick := func(f func(roundResult) float64) float64 {
		xs := make([]float64, len(r.Rounds))
		for i, rr := range r.Rounds {
			xs[i] = f(rr)
		}
		return median(xs)
	}
	r.OpsPerSec = pick(func(x roundResult) float64 { return x.OpsPerSec })
	r.OpsPerCPUSec = pick(func(x roundResult) float64 { return x.OpsPerCPUSec })
	r.P50Ns = pick(func(x roundResult) float64 { return x.P50Ns })
	r.P99Ns = pick(func(x roundResult) float64 { return x.P99Ns })
	r.P999Ns = pick(func(x roundResult) float64 { return x.P999Ns })
	r.AllocsPerOp = pick(func(x roundResult) float64 { return x.AllocsPerOp })
	r.ThreadsActive = int(pick(func(x roundResult) float64 { return float64(x.ThreadsActive) }) + 0.5)
	r.ThreadsTotal = int(pick(func(x roundResult) float64 { return float64(x.ThreadsTotal) }) + 0.5)
	if r.Rounds[0].ThreadsActive < 0 {
		r.ThreadsActive, r.ThreadsTotal = -1, -1
	}
	r.CswPerOp = pick(func(x roundResult) float64 { return x.CswPerOp })
	if r.Rounds[0].CswPerOp < 0 {
		r.CswPerOp = -1
	}
	r.MechCounts, r.Mech = nil, ""
	for _, rr := range r.Rounds {
		if rr.Mech != nil {
			if r.MechCounts == nil {
				r.MechCounts = &mechCounts{Driver: rr.Mech.Driver}
			}
			r.MechCounts.add(*rr.Mech)
		}
	}
	if r.MechCounts != nil {
		r.Mech = r.MechCounts.String()
	}
	lo, hi := r.Rounds[0].OpsPerSec, r.Rounds[0].OpsPerSec
	var merged histogram
	r.Extra = nil
	for _, rr := range r.Rounds {
		lo, hi = min(lo, rr.OpsPerSec), max(hi, rr.OpsPerSec)
		if rr.hist != nil {
			merged.merge(rr.hist)
		}
		for _, k := range slices.Sorted(maps.Keys(rr.Extra)) {
			if r.Extra == nil {
				r.Extra = map[string]float64{}
			}
			r.Extra[k] += rr.Extra[k]
		}
	}
	if r.OpsPerSec > 0 {
		r.Spread = (hi - lo) / r.OpsPerSec
	}
	r.Latency = merged.cdf()
}
