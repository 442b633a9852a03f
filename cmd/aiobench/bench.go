package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/waitforit/aio"
)

// config is what one invocation does; the flags fill it (see parseFlags).
type config struct {
	size      int64         // data file size, a multiple of blockSize
	writeSize int64         // write workload's file size
	coldSize  int64         // cold workload's file size, a multiple of blockSize
	dir       string        // where the temporary directory goes; "" chooses
	duration  time.Duration // one implementation's run in one round
	rounds    int
	only      []string // workload names; empty: all
	impls     []string // implementation names; empty: all available
	fio       bool
	floors    bool // run the workloads' floors (-floors)
	quick     bool
	noVerify  bool // the read workloads check lengths only, not bytes (-noverify)

	cpuProfile, trace string // files for -cpuprofile and -trace
	report            string // file for -report

	// afterCreate, if set, runs on the data file and on the cold file
	// once each is written and before anything reads it. Tests corrupt
	// the files here.
	afterCreate func(name string) error
	// echoTamper, if set, sees every message the tcp-echo server is about
	// to send back (seq counts them per connection, from 1). Tests corrupt
	// echoes here.
	echoTamper func(seq int, msg []byte)
	// httpTamper, if set, sees every response body the http server is
	// about to send (seq counts each client's requests, from 0 for its
	// warm-up request). Tests corrupt bodies here.
	httpTamper func(seq uint64, body []byte)
}

// results is everything a run found: the table, the JSON, and whatever
// a future -report draws, come from this.
type results struct {
	Machine     machineInfo       `json:"machine"`
	Data        dataInfo          `json:"data"`
	Load        loadInfo          `json:"load"`
	Settings    settings          `json:"settings"`
	Impls       []impl            `json:"implementations"`
	Workloads   []*workloadResult `json:"workloads"`
	Pending     map[string]string `json:"pending_workloads,omitempty"`
	Notes       []string          `json:"notes,omitempty"`
	Failures    []string          `json:"failures"`
	Interrupted bool              `json:"interrupted,omitempty"`
	ElapsedSec  float64           `json:"elapsed_sec"`
}

// machineInfo describes where the numbers were measured.
type machineInfo struct {
	GOOS           string `json:"goos"`
	GOARCH         string `json:"goarch"`
	CPUs           int    `json:"cpus"`
	GOMAXPROCS     int    `json:"gomaxprocs"`
	CPUModel       string `json:"cpu_model,omitempty"`
	Kernel         string `json:"kernel"`
	GoVersion      string `json:"go_version"`
	DefaultBackend string `json:"default_backend"`      // what aio.New(aio.Config{}) picks, or why nothing
	URingMode      string `json:"uring_mode,omitempty"` // AIO_URING_MODE, if set: who enters the io_uring
}

// dataInfo describes the files the workloads use.
type dataInfo struct {
	Dir            string  `json:"dir"`
	DirNote        string  `json:"dir_note,omitempty"`
	FileBytes      int64   `json:"file_bytes"`
	WriteFileBytes int64   `json:"write_file_bytes"`
	ColdFileBytes  int64   `json:"cold_file_bytes,omitempty"`
	CreateSeconds  float64 `json:"create_seconds"`
	ResidentStart  float64 `json:"resident_start"` // fraction of pages; -1 unknown
	ResidentEnd    float64 `json:"resident_end"`
	Residency      string  `json:"residency_method"`
}

// loadInfo says whether the machine was quiet while the tool measured:
// other processes' CPU use and hypervisor steal, averaged over every
// measured window. A busy machine lowers absolute numbers; the ratios,
// measured side by side in interleaved rounds, suffer less.
type loadInfo struct {
	OtherCPUsMean float64 `json:"other_cpus_mean"` // -1: unknown
	OtherCPUsMax  float64 `json:"other_cpus_max"`
	StealCPUsMean float64 `json:"steal_cpus_mean"`
}

// busyThreshold is the other processes' mean CPU use above which the
// header warns that the machine was not idle.
const busyThreshold = 0.15

// summarizeLoad averages the load over every measured round.
func summarizeLoad(wls []*workloadResult) loadInfo {
	l := loadInfo{OtherCPUsMean: -1, StealCPUsMean: -1}
	var other, steal float64
	n := 0
	for _, wr := range wls {
		for _, r := range wr.Rows {
			for _, rr := range r.Rounds {
				if rr.OtherCPUs < 0 {
					continue
				}
				other += rr.OtherCPUs
				steal += rr.StealCPUs
				l.OtherCPUsMax = max(l.OtherCPUsMax, rr.OtherCPUs)
				n++
			}
		}
	}
	if n > 0 {
		l.OtherCPUsMean, l.StealCPUsMean = other/float64(n), steal/float64(n)
	}
	return l
}

// settings are the run's parameters.
type settings struct {
	DurationSec float64 `json:"duration_sec"` // per implementation per round (times the workload's weight)
	Rounds      int     `json:"rounds"`
	Quick       bool    `json:"quick,omitempty"`
	NoVerify    bool    `json:"noverify,omitempty"`
}

// workloadResult is one workload's rows.
type workloadResult struct {
	Name    string `json:"name"`
	Title   string `json:"title"`
	OpUnit  string `json:"op"`
	NoRatio bool   `json:"no_ratio,omitempty"`
	// LatRatio: p50 and p99 are what the workload measures, and each row
	// shows them against the standard library's.
	LatRatio bool   `json:"latency_ratio,omitempty"`
	Rows     []*row `json:"rows"`
}

// env is what every run shares: the files and the checker.
type env struct {
	cfg      config
	dir      string // the temporary directory holding the files
	ramFS    bool   // dir is on tmpfs or ramfs: no disk under O_DIRECT
	dataName string
	blocks   int64
	pattern  *pattern
	resident *residentFile
	write    *writeState
	cold     coldFile
	checks   *checker
}

// selectWorkloads returns the workloads -only names, in suite order.
func selectWorkloads(only []string) ([]*workload, error) {
	all := workloadList()
	if len(only) == 0 {
		return all, nil
	}
	var names []string
	for _, w := range all {
		names = append(names, w.name)
	}
	pending := pendingWorkloads()
	for _, n := range only {
		if why, ok := pending[n]; ok {
			return nil, fmt.Errorf("workload %q cannot run yet: %s", n, why)
		}
		if !slices.Contains(names, n) {
			return nil, fmt.Errorf("unknown workload %q (have %v)", n, names)
		}
	}
	return slices.DeleteFunc(all, func(w *workload) bool { return !slices.Contains(only, w.name) }), nil
}

// probeImpls lists the implementations: every aio backend (unavailable
// ones with New's error) and the standard library.
func probeImpls() []impl {
	var out []impl
	for _, b := range []string{"uring", "portable", "iocp"} {
		im := impl{Name: "aio-" + b, Backend: b}
		r, err := aio.New(aio.Config{Backend: b})
		if err != nil {
			im.Err = err.Error()
		} else if err := r.Close(); err != nil {
			im.Err = "Ring.Close: " + err.Error()
		}
		out = append(out, im)
	}
	return append(out, impl{Name: "std"})
}

// describeMachine fills machineInfo.
func describeMachine() machineInfo {
	m := machineInfo{
		GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), CPUModel: cpuModel(),
		Kernel: kernelVersion(), GoVersion: runtime.Version(),
	}
	if r, err := aio.New(aio.Config{}); err != nil {
		m.DefaultBackend = "none: " + err.Error()
	} else {
		m.DefaultBackend = r.Backend()
		r.Close()
	}
	if v := os.Getenv("AIO_BACKEND"); v != "" {
		m.DefaultBackend += " (AIO_BACKEND=" + v + ")"
	}
	m.URingMode = os.Getenv("AIO_URING_MODE")
	return m
}

// chooseDir picks the directory for the files: -dir if given, else the
// first of the temporary directory, the current directory and $HOME that
// is not a RAM file system (where O_DIRECT fails and "disk" reads are
// memory reads).
func chooseDir(flagDir string) (dir, note string, err error) {
	if flagDir != "" {
		tmpfs, _, err := dirInfo(flagDir)
		if err != nil {
			return "", "", fmt.Errorf("-dir %s: %w", flagDir, err)
		}
		if tmpfs {
			return flagDir, "-dir is a RAM file system: the O_DIRECT workload will be n/a", nil
		}
		return flagDir, "", nil
	}
	var skipped []string
	candidates := []string{os.TempDir()}
	if wd, err := os.Getwd(); err == nil {
		candidates = append(candidates, wd)
	}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, home)
	}
	for _, c := range candidates {
		tmpfs, _, err := dirInfo(c)
		if err != nil {
			continue
		}
		if !tmpfs {
			if len(skipped) > 0 {
				note = fmt.Sprintf("%v are RAM file systems", skipped)
			}
			return c, note, nil
		}
		skipped = append(skipped, c)
	}
	return os.TempDir(), "no disk-backed directory found: the O_DIRECT workload will be n/a", nil
}

// setupEnv creates the temporary directory and the files the selected
// workloads need. cleanup removes everything; call it on every path.
func setupEnv(ctx context.Context, cfg config, nd needs, checks *checker, prog *progress) (e *env, info dataInfo, cleanup func(), err error) {
	cleanup = func() {}
	dir, note, err := chooseDir(cfg.dir)
	if err != nil {
		return nil, info, cleanup, err
	}
	info = dataInfo{Dir: dir, DirNote: note, ResidentStart: -1, ResidentEnd: -1, Residency: "not needed"}
	var need int64 = 16 << 20
	if nd.dataFile {
		need += cfg.size
	}
	if nd.writeFile {
		need += cfg.writeSize
	}
	ramFS, free, err := dirInfo(dir)
	coldWhy := coldUsable(dir, ramFS)
	if nd.coldFile && coldWhy == "" {
		need += cfg.coldSize
	}
	if err == nil && free >= 0 && free < need {
		return nil, info, cleanup, fmt.Errorf("%s has %d MiB free, the run needs %d MiB (use -dir or -size)", dir, free>>20, need>>20)
	}
	tmp, err := os.MkdirTemp(dir, "aiobench-")
	if err != nil {
		return nil, info, cleanup, err
	}
	ev := &env{cfg: cfg, dir: tmp, ramFS: ramFS, pattern: newPattern(), checks: checks}
	e = ev
	info.Dir = tmp
	cleanup = func() { // ev, not e: the error returns below set e to nil
		if ev.resident != nil {
			ev.resident.close()
		}
		os.RemoveAll(tmp)
	}
	start := time.Now()
	if nd.dataFile {
		e.dataName = filepath.Join(tmp, "data")
		e.blocks = cfg.size / blockSize
		info.FileBytes = cfg.size
		prog.line("creating %d MiB data file in %s", cfg.size>>20, tmp)
		if err := createDataFile(ctx, e.dataName, e.blocks, e.pattern); err != nil {
			return nil, info, cleanup, fmt.Errorf("creating the data file: %w", err)
		}
		if cfg.afterCreate != nil {
			if err := cfg.afterCreate(e.dataName); err != nil {
				return nil, info, cleanup, err
			}
		}
		if e.resident, err = keepResident(e.dataName, cfg.size); err != nil {
			return nil, info, cleanup, err
		}
		info.Residency = e.resident.method()
		info.ResidentStart = residentFraction(e.resident)
	}
	if nd.writeFile {
		ws := &writeState{name: filepath.Join(tmp, "writes"), blocks: cfg.writeSize / blockSize}
		ws.gens = make([]uint64, ws.blocks)
		info.WriteFileBytes = cfg.writeSize
		if err := createDataFile(ctx, ws.name, ws.blocks, e.pattern); err != nil {
			return nil, info, cleanup, fmt.Errorf("creating the write file: %w", err)
		}
		e.write = ws
	}
	if nd.coldFile {
		e.cold = coldFile{why: coldWhy}
		if coldWhy == "" {
			e.cold = coldFile{name: filepath.Join(tmp, "cold"), blocks: cfg.coldSize / blockSize}
			info.ColdFileBytes = cfg.coldSize
			prog.line("creating %d MiB cold file in %s", cfg.coldSize>>20, tmp)
			if err := createDataFile(ctx, e.cold.name, e.cold.blocks, e.pattern); err != nil {
				return nil, info, cleanup, fmt.Errorf("creating the cold file: %w", err)
			}
			if cfg.afterCreate != nil {
				if err := cfg.afterCreate(e.cold.name); err != nil {
					return nil, info, cleanup, err
				}
			}
		}
	}
	info.CreateSeconds = time.Since(start).Seconds()
	return e, info, cleanup, nil
}

// residentFraction is the fraction of r's pages in memory, -1 if unknown.
func residentFraction(r *residentFile) float64 {
	res, total, err := r.residency()
	if err != nil || total == 0 {
		return -1
	}
	return float64(res) / float64(total)
}

// run runs the suite. It returns the results so far even with an error
// (setup failed, or a run hung); invariant failures are in
// results.Failures, not in the error.
func run(ctx context.Context, cfg config, prog *progress) (*results, error) {
	start := time.Now()
	if prog == nil {
		prog = newProgress(io.Discard, false)
	}
	res := &results{
		Machine:  describeMachine(),
		Settings: settings{DurationSec: cfg.duration.Seconds(), Rounds: cfg.rounds, Quick: cfg.quick, NoVerify: cfg.noVerify},
		Pending:  pendingWorkloads(),
		Failures: []string{},
	}
	defer func() { res.ElapsedSec = time.Since(start).Seconds() }()
	wls, err := selectWorkloads(cfg.only)
	if err != nil {
		return res, err
	}
	res.Impls = probeImpls()
	var avail []impl
	for _, im := range res.Impls {
		if im.Err == "" && (len(cfg.impls) == 0 || slices.Contains(cfg.impls, im.Name)) {
			avail = append(avail, im)
		}
	}
	var nd needs
	for _, w := range wls {
		nd.dataFile = nd.dataFile || w.needs.dataFile
		nd.writeFile = nd.writeFile || w.needs.writeFile
		nd.coldFile = nd.coldFile || w.needs.coldFile
	}
	checks := &checker{}
	e, info, cleanup, err := setupEnv(ctx, cfg, nd, checks, prog)
	defer cleanup()
	res.Data = info
	if ctx.Err() != nil {
		res.Interrupted = true
		return res, nil
	}
	if err != nil {
		return res, err
	}
	fioPath, fioErr := findFio()
	if cfg.fio && fioErr != nil {
		res.Notes = append(res.Notes, "-fio: "+fioErr.Error())
	}
	if cfg.noVerify {
		res.Notes = append(res.Notes, "-noverify: the bytes of the reads of read-1, read-32, op-32 and direct-32 were not checked (their counts were)")
	}
	prog.total = 0
	for _, w := range wls {
		prog.total += cfg.rounds * len(implsFor(w, avail, cfg))
	}

	for _, w := range wls {
		title := w.title
		if w.titleFor != nil {
			title = w.titleFor(cfg)
		}
		wr := &workloadResult{Name: w.name, Title: title, OpUnit: w.opsUnits, NoRatio: w.noRatio, LatRatio: w.latRatio}
		res.Workloads = append(res.Workloads, wr)
		rows := map[string]*row{}
		impls := implsFor(w, avail, cfg)
		for _, im := range impls {
			r := &row{Impl: im.Name, Kind: "aio"}
			if im.isStd() {
				r.Kind = "std"
			} else if im.floor != nil {
				r.Kind = "floor"
			}
			rows[im.Name] = r
			wr.Rows = append(wr.Rows, r)
		}
		for round := range cfg.rounds {
			for i := range impls {
				im := impls[(i+round)%len(impls)] // rotate who goes first
				r := rows[im.Name]
				label := fmt.Sprintf("%s %s round %d/%d", w.name, im.Name, round+1, cfg.rounds)
				if r.NA != "" {
					prog.skip()
					continue
				}
				prog.runStarted(label)
				rr, err := e.runOne(ctx, w, im, round)
				if ctx.Err() != nil {
					finishWorkload(wr)
					res.Interrupted = true
					res.Failures = checks.list()
					return res, nil
				}
				var na *notApplicable
				switch {
				case errors.Is(err, errHung):
					res.Failures = checks.list()
					return res, err
				case errors.As(err, &na):
					r.NA = na.reason
					prog.runFinished(label, "n/a: "+na.reason)
					continue
				case err != nil:
					prog.runFinished(label, "FAILED: "+err.Error())
					continue
				}
				r.Rounds = append(r.Rounds, rr)
				prog.runFinished(label, summarizeRound(rr))
			}
		}
		if cfg.fio && fioErr == nil {
			for _, job := range w.fio {
				prog.status("%s: %s", w.name, job.name)
				wr.Rows = append(wr.Rows, runFio(ctx, fioPath, job, e, cfg.duration*time.Duration(cfg.rounds)))
			}
		}
		finishWorkload(wr)
	}
	if e.resident != nil {
		res.Data.ResidentEnd = residentFraction(e.resident)
	}
	res.Load = summarizeLoad(res.Workloads)
	res.Failures = checks.list()
	return res, nil
}

// implsFor is what runs w: the available implementations, and w's
// floors with -floors.
func implsFor(w *workload, avail []impl, cfg config) []impl {
	if !cfg.floors || len(w.floors) == 0 {
		return avail
	}
	out := slices.Clone(avail)
	for _, f := range w.floors {
		out = append(out, impl{Name: "floor " + f.name, floor: f.run})
	}
	return out
}

// runOne is one run: a fresh ring for aio (so its counters are this
// run's), the workload, its files closed, the ring's counters checked and
// the ring closed.
func (e *env) runOne(ctx context.Context, w *workload, im impl, round int) (roundResult, error) {
	rc := &runCtx{
		ctx: ctx, env: e, impl: im, round: round,
		duration: time.Duration(float64(e.cfg.duration) * w.weight),
		label:    fmt.Sprintf("%s/%s round %d", w.name, im.Name, round+1),
	}
	if im.Backend != "" {
		ring, err := aio.New(aio.Config{Backend: im.Backend})
		if err != nil {
			rc.fail("aio.New: %v", err)
			return roundResult{}, err
		}
		rc.ring = ring
	}
	if w.cached && e.resident != nil {
		e.resident.touch()
	}
	run := w.run
	if im.floor != nil {
		run = im.floor
	}
	st, err := run(rc)
	if errors.Is(err, errHung) {
		msg := fmt.Sprintf("%s: %v", rc.label, err)
		if rc.ring != nil {
			msg += fmt.Sprintf(" (ring stats: %+v)", rc.ring.Stats())
		}
		e.checks.fail("%s", msg)
		return roundResult{}, errHung // nothing can be closed safely now
	}
	for i := len(rc.closers) - 1; i >= 0; i-- {
		rc.closers[i]()
	}
	if rc.ring != nil {
		if cerr := checkRingStats(rc.ring.Stats()); cerr != nil {
			rc.fail("%v", cerr)
		}
		if cerr := rc.ring.Close(); cerr != nil {
			rc.fail("Ring.Close: %v", cerr)
		}
	}
	var na *notApplicable
	if errors.As(err, &na) {
		return roundResult{}, na
	}
	if err != nil {
		rc.fail("%v", err)
	}
	if rc.begin.wall.IsZero() || rc.end.wall.IsZero() {
		if err == nil {
			err = errors.New("the run measured nothing")
		}
		return roundResult{}, err
	}
	rr := newRoundResult(round+1, rc.begin, rc.end, st)
	if rc.ring != nil {
		m := mechDelta(im.Backend, rc.ringBegin, rc.ringEnd)
		rr.Mech = &m
	}
	return rr, nil
}

// finishWorkload aggregates the rounds of each row and computes the ratios.
func finishWorkload(wr *workloadResult) {
	for _, r := range wr.Rows {
		if r.Kind != "fio" { // fio rows are complete when made
			r.aggregate()
		}
	}
	computeRatios(wr)
}

// computeRatios sets each row's ratios to the standard library's row:
// ops/s and ops per CPU-second unless the workload says they are not
// comparable, p50 and p99 if it says they are what it measures.
func computeRatios(wr *workloadResult) {
	var base *row
	for _, r := range wr.Rows {
		if r.Kind == "std" && r.NA == "" && r.OpsPerSec > 0 {
			base = r
		}
	}
	if base == nil {
		return
	}
	for _, r := range wr.Rows {
		if r == base || r.NA != "" || len(r.Rounds) == 0 {
			continue
		}
		if !wr.NoRatio {
			r.Ratio = r.OpsPerSec / base.OpsPerSec
			if r.OpsPerCPUSec > 0 && base.OpsPerCPUSec > 0 {
				r.CPURatio = r.OpsPerCPUSec / base.OpsPerCPUSec
			}
		}
		if wr.LatRatio && r.P50Ns > 0 && base.P50Ns > 0 && r.P99Ns > 0 && base.P99Ns > 0 {
			r.P50Ratio = r.P50Ns / base.P50Ns
			r.P99Ratio = r.P99Ns / base.P99Ns
		}
	}
}
