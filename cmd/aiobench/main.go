// Command aiobench measures the aio library against Go's standard library
// (and, with -fio, against fio) and checks the library's invariants while
// it does.
//
// With no arguments it creates a 256 MiB data file in a disk-backed
// temporary directory (every 4 KiB block holds a pattern derived from its
// index, so every read is verified), keeps it resident in the page cache,
// creates a 1 GiB file of the same pattern that cold-32 evicts from the
// page cache before each of its runs, runs the suite on every available
// aio backend and on os.File (net and net/http for the network
// workloads) in interleaved rounds, prints one table, removes its files,
// and exits non-zero if any invariant failed: a read returned the wrong
// data, a ring's counters did not balance (submitted == completed,
// nothing in flight), a byte went missing or came back altered in a pipe,
// a TCP echo or an HTTP response, or a cancel outcome went uncounted. It
// takes about two minutes on a 2-core machine.
//
// Usage:
//
//	aiobench [-size 256MiB] [-cold-size 1GiB] [-dir DIR] [-duration 750ms] [-rounds 3]
//	         [-only read-1,op-32,...] [-json] [-fio] [-quick]
//	         [-impl aio-uring,std] [-report FILE] [-cpuprofile FILE] [-trace FILE]
//
// The workloads are read-1, read-32, op-32, direct-32, cold-32,
// write-fsync, pingpong, cancel-storm, cancel-latency, cancel-latency-op,
// cancel-latency-spin, tcp-echo-1, tcp-echo (64 connections),
// tcp-echo-1000, http, serve-file-64k, serve-file-1m (net/http serving
// files; the details show the bytes aio moved with and without a
// userspace copy) and proxy (io.Copy both ways through a TCP proxy). Beside ops/s, ops per CPU-second and
// latencies, every row shows which of aio's mechanisms served it (mech),
// the process's context switches per op and its OS threads; the
// cancel-latency rows show their p50 and p99 against the standard
// library's. Progress goes to stderr (one updating line on a terminal,
// plain lines otherwise), the table or, with -json, the JSON results to
// stdout. -report FILE also writes a self-contained HTML page with the
// table and each workload's latency CDF, drawn with gonum.org/v1/plot.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr))
}

// execute is the whole command: flags, run, output. It returns the exit
// status: 0 all held, 1 an invariant failed or the run could not be done,
// 2 bad usage, 130 interrupted.
func execute(args []string, stdout, stderr io.Writer) int {
	cfg, jsonOut, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "aiobench:", err)
		return 2
	}

	// The first Ctrl-C (or SIGTERM) ends the current run, skips the rest
	// and cleans up; a second one kills the process the default way.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()

	stopProfiles, err := startProfiles(cfg.cpuProfile, cfg.trace)
	if err != nil {
		fmt.Fprintln(stderr, "aiobench:", err)
		return 2
	}
	tty := false
	if f, ok := stderr.(*os.File); ok {
		tty = isTerminal(f)
	}
	prog := newProgress(stderr, tty)
	res, err := run(ctx, cfg, prog)
	stopProfiles()
	prog.clear()
	// A run that failed before measuring anything has no table to show.
	if res != nil && (err == nil || len(res.Workloads) > 0) {
		if jsonOut {
			if werr := writeJSON(stdout, res); werr != nil {
				fmt.Fprintln(stderr, "aiobench:", werr)
			}
		} else {
			writeTable(stdout, res)
		}
		if cfg.report != "" {
			if werr := writeReportFile(cfg.report, res); werr != nil {
				fmt.Fprintln(stderr, "aiobench:", werr)
				if err == nil {
					err = werr
				}
			} else {
				fmt.Fprintf(stderr, "aiobench: report written to %s\n", cfg.report)
			}
		}
	}
	switch {
	case err != nil:
		fmt.Fprintln(stderr, "aiobench:", err)
		if res != nil {
			for _, f := range res.Failures {
				fmt.Fprintln(stderr, "  ", f)
			}
		}
		return 1
	case res.Interrupted:
		fmt.Fprintln(stderr, "aiobench: interrupted")
		return 130
	case len(res.Failures) > 0:
		fmt.Fprintf(stderr, "aiobench: FAILED: %d invariant failure(s)\n", len(res.Failures))
		for _, f := range res.Failures {
			fmt.Fprintln(stderr, "  ", f)
		}
		return 1
	}
	return 0
}

// defaultDuration is -duration's default: with 3 rounds and three
// implementations the whole suite takes about a minute.
const defaultDuration = 750 * time.Millisecond

// parseFlags turns the command line into a config.
func parseFlags(args []string, stderr io.Writer) (cfg config, jsonOut bool, err error) {
	fs := flag.NewFlagSet("aiobench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	size := fs.String("size", "256MiB", "data file size (K, M, G suffixes are binary)")
	coldSize := fs.String("cold-size", "1GiB", "size of cold-32's file, evicted from the page cache before each run")
	fs.StringVar(&cfg.dir, "dir", "", "directory for the temporary files (default: the first disk-backed of $TMPDIR, the current directory, $HOME)")
	fs.DurationVar(&cfg.duration, "duration", defaultDuration, "how long each implementation runs a workload in each round")
	fs.IntVar(&cfg.rounds, "rounds", 3, "interleaved rounds per workload; the table shows medians")
	only := fs.String("only", "", "comma-separated workloads to run (default all): "+strings.Join(workloadNames(), ","))
	impls := fs.String("impl", "", "comma-separated implementations to run (default all available): aio-uring,aio-portable,aio-iocp,std")
	fs.BoolVar(&jsonOut, "json", false, "write the results as JSON to stdout instead of the table")
	fs.BoolVar(&cfg.fio, "fio", false, "also run the equivalent fio jobs, if fio is installed")
	fs.BoolVar(&cfg.floors, "floors", false, "also run the workloads' floors (op-32's: its system calls with nothing of aio's, in its harness), interleaved in the rounds")
	fs.StringVar(&cfg.report, "report", "", "also write an HTML report with latency CDF plots per workload to `file`")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to `file` (go tool pprof)")
	fs.StringVar(&cfg.trace, "trace", "", "write an execution trace of the whole run to `file` (go tool trace)")
	fs.BoolVar(&cfg.noVerify, "noverify", false, "do not check the bytes of each read in read-1, read-32, op-32 and direct-32, only its count: for comparisons with floors that check nothing (fio, scripts/floors)")
	fs.BoolVar(&cfg.quick, "quick", false, "smoke mode, about 10 s: a 32 MiB data file, a 128 MiB cold file, 100ms runs, 2 rounds (explicit flags still win)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: aiobench [flags]\n\nMeasures aio against os.File (and fio with -fio) and verifies its invariants.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, false, err
	}
	if fs.NArg() > 0 {
		return cfg, false, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	cfg.writeSize = 64 << 20
	if cfg.quick {
		if !set["size"] {
			*size = "32MiB"
		}
		if !set["cold-size"] {
			*coldSize = "128MiB"
		}
		if !set["duration"] {
			cfg.duration = 100 * time.Millisecond
		}
		if !set["rounds"] {
			cfg.rounds = 2
		}
		cfg.writeSize = 8 << 20
	}
	if cfg.size, err = parseSize(*size); err != nil {
		return cfg, false, fmt.Errorf("-size: %v", err)
	}
	if cfg.size < 1<<20 {
		return cfg, false, fmt.Errorf("-size %s: at least 1MiB", *size)
	}
	cfg.size -= cfg.size % blockSize
	if cfg.coldSize, err = parseSize(*coldSize); err != nil {
		return cfg, false, fmt.Errorf("-cold-size: %v", err)
	}
	if cfg.coldSize < 1<<20 {
		return cfg, false, fmt.Errorf("-cold-size %s: at least 1MiB", *coldSize)
	}
	cfg.coldSize -= cfg.coldSize % blockSize
	if cfg.duration <= 0 || cfg.rounds <= 0 {
		return cfg, false, errors.New("-duration and -rounds must be positive")
	}
	cfg.only = splitList(*only)
	if _, err := selectWorkloads(cfg.only); err != nil {
		return cfg, false, fmt.Errorf("-only: %v", err)
	}
	cfg.impls = splitList(*impls)
	for _, n := range cfg.impls {
		if n != "std" && !strings.HasPrefix(n, "aio-") {
			return cfg, false, fmt.Errorf("-impl: unknown implementation %q (aio-BACKEND or std)", n)
		}
	}
	return cfg, jsonOut, nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// startProfiles starts the CPU profile and the execution trace asked for;
// the function it returns stops them and closes their files.
func startProfiles(cpuProfile, traceFile string) (stop func(), err error) {
	var stops []func()
	stop = func() {
		for _, f := range stops {
			f()
		}
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return stop, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return stop, err
		}
		stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
	}
	if traceFile != "" {
		f, err := os.Create(traceFile)
		if err != nil {
			stop()
			return func() {}, err
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			stop()
			return func() {}, err
		}
		stops = append(stops, func() { trace.Stop(); f.Close() })
	}
	return stop, nil
}

// workloadNames lists the suite's workload names.
func workloadNames() []string {
	var names []string
	for _, w := range workloadList() {
		names = append(names, w.name)
	}
	return names
}

// parseSize parses "256MiB", "1G", "4096" and the like.
func parseSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v <= 0 || v > (1<<50)/mult {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return v * mult, nil
}
