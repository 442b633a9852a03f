package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// fioJob is a fio job equivalent to a workload: the C reference in the
// same table. All are 4 KiB random reads of the data file.
type fioJob struct {
	name   string // the row's implementation name
	engine string // fio ioengine
	depth  int
	direct bool
}

// fioURing is the io_uring job. It runs the way fio is fastest
// here: depth 32, submissions batched by 32, completions reaped as soon as
// there is one (up to 32 at a time), fixed buffers and registered files.
// (Measured on the 2-core machine: submit 32 / complete 1..32 beat
// 16/1..16, 8/8..32 and 16/16..32 by 10-20%, and no batching by 2x.)
func fioURing(direct bool) fioJob {
	return fioJob{name: "fio io_uring", engine: "io_uring", depth: 32, direct: direct}
}

// fioPsync is one thread doing pread: depth 1.
func fioPsync(direct bool) fioJob {
	return fioJob{name: "fio psync", engine: "psync", depth: 1, direct: direct}
}

// findFio returns fio's path, or why it cannot be used.
func findFio() (string, error) {
	path, err := exec.LookPath("fio")
	if err != nil {
		return "", errors.New("fio is not installed (not on PATH); no fio rows")
	}
	return path, nil
}

// fioArgs is the command line of job on file (size bytes) for runtime.
func fioArgs(job fioJob, file string, size int64, runtime time.Duration) []string {
	direct := "0"
	if job.direct {
		direct = "1"
	}
	args := []string{
		"--name=aiobench", "--filename=" + strings.ReplaceAll(file, ":", `\:`),
		"--readonly", "--rw=randread", "--bs=4k", fmt.Sprintf("--size=%d", size),
		"--time_based", fmt.Sprintf("--runtime=%dms", max(runtime.Milliseconds(), 100)),
		"--norandommap", "--randrepeat=0", "--invalidate=0", "--direct=" + direct,
		"--numjobs=1", "--lat_percentiles=1", "--percentile_list=50:99:99.9",
		"--output-format=json",
		"--ioengine=" + job.engine, fmt.Sprintf("--iodepth=%d", job.depth),
	}
	if job.engine == "io_uring" { // engine options must follow --ioengine
		args = append(args,
			fmt.Sprintf("--iodepth_batch_submit=%d", job.depth),
			"--iodepth_batch_complete_min=1",
			fmt.Sprintf("--iodepth_batch_complete_max=%d", job.depth),
			"--fixedbufs", "--registerfiles")
	}
	return args
}

// fioOutput is the part of fio's JSON output the table uses.
type fioOutput struct {
	Jobs []struct {
		Error  int     `json:"error"`
		UsrCPU float64 `json:"usr_cpu"`
		SysCPU float64 `json:"sys_cpu"`
		Ctx    *int64  `json:"ctx"` // the job's context switches
		Read   struct {
			IOPS     float64 `json:"iops"`
			TotalIOs uint64  `json:"total_ios"`
			Runtime  float64 `json:"runtime"` // ms
			Lat      struct {
				Percentile map[string]float64 `json:"percentile"`
			} `json:"lat_ns"`
			Clat struct {
				Percentile map[string]float64 `json:"percentile"`
			} `json:"clat_ns"`
		} `json:"read"`
	} `json:"jobs"`
}

// parseFio turns fio's JSON output into a row.
func parseFio(name string, out []byte) (*row, error) {
	// fio may print warnings before the JSON document.
	if i := bytes.IndexByte(out, '{'); i > 0 {
		out = out[i:]
	}
	var fo fioOutput
	if err := json.Unmarshal(out, &fo); err != nil {
		return nil, fmt.Errorf("fio output: %v", err)
	}
	if len(fo.Jobs) != 1 {
		return nil, fmt.Errorf("fio output has %d jobs, want 1", len(fo.Jobs))
	}
	j := fo.Jobs[0]
	if j.Error != 0 {
		return nil, fmt.Errorf("fio job error %d", j.Error)
	}
	pct := j.Read.Lat.Percentile
	if len(pct) == 0 {
		pct = j.Read.Clat.Percentile
	}
	rr := roundResult{
		Round: 1, Ops: j.Read.TotalIOs, Seconds: j.Read.Runtime / 1000, CPUSeconds: -1,
		OpsPerSec: j.Read.IOPS,
		P50Ns:     pct["50.000000"], P99Ns: pct["99.000000"], P999Ns: pct["99.900000"],
		ThreadsActive: -1, ThreadsTotal: -1, CtxSwitches: -1, CswPerOp: -1,
	}
	if j.Ctx != nil {
		rr.CtxSwitches = *j.Ctx
		if rr.Ops > 0 {
			rr.CswPerOp = float64(*j.Ctx) / float64(rr.Ops)
		}
	}
	if cpu := (j.UsrCPU + j.SysCPU) / 100; cpu > 0 {
		rr.CPUSeconds = cpu * rr.Seconds
		rr.OpsPerCPUSec = j.Read.IOPS / cpu
	}
	r := &row{Impl: name, Kind: "fio", Rounds: []roundResult{rr}}
	r.aggregate()
	r.AllocsPerOp, r.ThreadsActive, r.ThreadsTotal = -1, -1, -1
	return r, nil
}

// runFio runs job against the data file; a failure is an n/a row.
func runFio(ctx context.Context, path string, job fioJob, e *env, runtime time.Duration) *row {
	if e.dataName == "" {
		return &row{Impl: job.name, Kind: "fio", NA: "no data file"}
	}
	if job.direct {
		if err := directIOUsable(e); err != nil {
			return &row{Impl: job.name, Kind: "fio", NA: err.Error()}
		}
	}
	cmd := exec.CommandContext(ctx, path, fioArgs(job, e.dataName, e.blocks*blockSize, runtime)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return &row{Impl: job.name, Kind: "fio", NA: fmt.Sprintf("fio: %v: %s", err, strings.TrimSpace(stderr.String()))}
	}
	r, err := parseFio(job.name, out)
	if err != nil {
		return &row{Impl: job.name, Kind: "fio", NA: err.Error()}
	}
	return r
}
