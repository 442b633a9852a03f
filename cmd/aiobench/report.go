package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
)

// writeJSON writes the results as indented JSON.
func writeJSON(w io.Writer, res *results) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// writeTable writes the header, the table, the details and the failures.
func writeTable(w io.Writer, res *results) {
	m := res.Machine
	fmt.Fprintf(w, "aiobench  %s/%s, %d CPUs (GOMAXPROCS %d)", m.GOOS, m.GOARCH, m.CPUs, m.GOMAXPROCS)
	if m.CPUModel != "" {
		fmt.Fprintf(w, ", %s", m.CPUModel)
	}
	fmt.Fprintf(w, "\n          kernel %s, %s, aio default backend: %s", m.Kernel, m.GoVersion, m.DefaultBackend)
	if m.URingMode != "" {
		fmt.Fprintf(w, ", AIO_URING_MODE=%s", m.URingMode)
	}
	fmt.Fprintln(w)
	var avail, unavail []string
	for _, im := range res.Impls {
		if im.Err != "" {
			unavail = append(unavail, fmt.Sprintf("%s unavailable (%s)", im.Name, im.Err))
		} else {
			avail = append(avail, im.Name)
		}
	}
	fmt.Fprintf(w, "impls     %s\n", strings.Join(avail, ", "))
	for _, u := range unavail {
		fmt.Fprintf(w, "          %s\n", u)
	}
	d := res.Data
	fmt.Fprintf(w, "files     %s", d.Dir)
	var files []string
	if d.FileBytes > 0 {
		files = append(files, "data "+fmtBytes(d.FileBytes))
	}
	if d.WriteFileBytes > 0 {
		files = append(files, "writes "+fmtBytes(d.WriteFileBytes))
	}
	if d.ColdFileBytes > 0 {
		files = append(files, "cold "+fmtBytes(d.ColdFileBytes))
	}
	if len(files) > 0 {
		fmt.Fprintf(w, ": %s", strings.Join(files, ", "))
	}
	fmt.Fprintf(w, " (created in %.1fs; removed at exit)\n", d.CreateSeconds)
	if d.DirNote != "" {
		fmt.Fprintf(w, "          %s\n", d.DirNote)
	}
	if d.FileBytes > 0 {
		fmt.Fprintf(w, "resident  %s at start, %s at end: %s\n", fmtFraction(d.ResidentStart), fmtFraction(d.ResidentEnd), d.Residency)
	}
	if l := res.Load; l.OtherCPUsMean >= busyThreshold {
		fmt.Fprintf(w, "load      NOT IDLE: other processes used %.2f CPUs on average (max %.2f) of %d during the measured windows, steal %.2f:\n"+
			"          absolute numbers are low; the ratios, measured side by side, are the better guide\n",
			l.OtherCPUsMean, l.OtherCPUsMax, m.CPUs, l.StealCPUsMean)
	} else if l.OtherCPUsMean >= 0 {
		fmt.Fprintf(w, "load      idle: other processes used %.2f CPUs on average (max %.2f), steal %.2f\n", l.OtherCPUsMean, l.OtherCPUsMax, l.StealCPUsMean)
	}
	s := res.Settings
	fmt.Fprintf(w, "runs      %d rounds x %s per implementation (interleaved, order rotated each round); medians of the rounds; %.1fs in all\n",
		s.Rounds, fmtSeconds(s.DurationSec), res.ElapsedSec)
	fmt.Fprintln(w)

	header := tableHeader
	left := map[int]bool{0: true, 1: true, 2: true}
	var lines [][]string
	for _, wr := range res.Workloads {
		for i, r := range wr.Rows {
			name := ""
			if i == 0 {
				name = wr.Name
			}
			lines = append(lines, tableCells(name, r, res.Interrupted))
		}
	}
	widths := make([]int, len(header))
	for _, l := range append([][]string{header}, lines...) {
		for i, c := range l {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	printRow := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[i]-len([]rune(c)))
			if left[i] {
				b.WriteString(c + pad)
			} else {
				b.WriteString(pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	printRow(header)
	for _, l := range lines {
		printRow(l)
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "workloads (one op is):")
	nw := 15
	for _, wr := range res.Workloads {
		nw = max(nw, len(wr.Name))
	}
	for _, wr := range res.Workloads {
		fmt.Fprintf(w, "  %-*s %s; op = %s\n", nw, wr.Name, wr.Title, wr.OpUnit)
		var naOrder []string
		naImpls := map[string][]string{} // reason -> implementations
		for _, r := range wr.Rows {
			if len(r.Extra) > 0 {
				var parts []string
				for _, k := range slices.Sorted(maps.Keys(r.Extra)) {
					parts = append(parts, fmt.Sprintf("%s %.0f", k, r.Extra[k]))
				}
				fmt.Fprintf(w, "  %-*s   %s: %s (all rounds)\n", nw, "", r.Impl, strings.Join(parts, ", "))
			}
			if r.NA != "" {
				if _, ok := naImpls[r.NA]; !ok {
					naOrder = append(naOrder, r.NA)
				}
				naImpls[r.NA] = append(naImpls[r.NA], r.Impl)
			}
		}
		for _, reason := range naOrder {
			fmt.Fprintf(w, "  %-*s   %s: n/a: %s\n", nw, "", strings.Join(naImpls[reason], ", "), reason)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(res.Pending)) {
		fmt.Fprintf(w, "  %-*s not yet: %s\n", nw, name, res.Pending[name])
	}
	fmt.Fprintln(w, "mech: which of aio's mechanisms served its operations in the measured windows (direct: at once in the caller; ready: the caller's non-blocking")
	fmt.Fprintln(w, "      call, waiting in Go's netpoller; ring: io_uring's driver, its worker pool included; workers: the portable backend's driver, worker threads for files and")
	fmt.Fprintln(w, "      its own goroutines in the netpoller for pipes and sockets), with the share of any other above 5%")
	fmt.Fprintln(w, "csw/op: the process's context switches (voluntary+involuntary, getrusage) per op; threads: OS threads that ran during the window /")
	fmt.Fprintln(w, "      threads in the process (io_uring's kernel workers included); spread: (max-min)/median of ops/s over the rounds;")
	fmt.Fprintln(w, "      x std p50/p99: latency over std's, for the workloads that measure latency")
	for _, n := range res.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintln(w)
	switch {
	case res.Interrupted:
		fmt.Fprintln(w, "INTERRUPTED: the table holds the rounds that finished")
	case len(res.Failures) == 0:
		what := "every read verified"
		if res.Settings.NoVerify {
			what = "every read's count checked, not its bytes: -noverify"
		}
		fmt.Fprintf(w, "invariants: all held (%s, ring counters balanced, no byte lost)\n", what)
	}
	if len(res.Failures) > 0 {
		fmt.Fprintf(w, "FAILED: %d invariant failure(s):\n", len(res.Failures))
		for _, f := range res.Failures {
			fmt.Fprintf(w, "  %s\n", f)
		}
	}
}

// tableHeader is the table's columns.
var tableHeader = []string{"workload", "impl", "mech", "ops/s", "ops/cpu-s", "p50", "p99", "p99.9", "allocs/op", "csw/op", "threads", "spread", "x std", "x std cpu", "x std p50/p99"}

// tableCells formats one row.
func tableCells(workload string, r *row, interrupted bool) []string {
	blank := func(what string) []string {
		cells := make([]string, len(tableHeader))
		cells[0], cells[1], cells[3] = workload, r.Impl, what
		return cells
	}
	if r.NA != "" {
		return blank("n/a")
	}
	if len(r.Rounds) == 0 {
		if interrupted {
			return blank("not run")
		}
		return blank("failed")
	}
	mech := r.Mech
	if mech == "" {
		mech = "-"
	}
	csw := "-"
	if r.CswPerOp >= 0 {
		csw = fmtPerOp(r.CswPerOp)
	}
	lat := "-"
	if r.P50Ratio > 0 {
		lat = fmt.Sprintf("%.2f/%.2f", r.P50Ratio, r.P99Ratio)
	}
	threads := "-"
	if r.ThreadsActive >= 0 {
		threads = fmt.Sprintf("%d/%d", r.ThreadsActive, r.ThreadsTotal)
	}
	allocs := "-"
	if r.AllocsPerOp >= 0 {
		allocs = fmt.Sprintf("%.2f", r.AllocsPerOp)
	}
	cpu := "-"
	if r.OpsPerCPUSec > 0 {
		cpu = fmtCount(r.OpsPerCPUSec)
	}
	spread := "-"
	if len(r.Rounds) > 1 {
		spread = fmt.Sprintf("%.0f%%", 100*r.Spread)
	}
	ratio := func(x float64) string {
		if x == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", x)
	}
	return []string{
		workload, r.Impl, mech, fmtCount(r.OpsPerSec), cpu,
		fmtNs(r.P50Ns), fmtNs(r.P99Ns), fmtNs(r.P999Ns),
		allocs, csw, threads, spread, ratio(r.Ratio), ratio(r.CPURatio), lat,
	}
}

// fmtPerOp prints a per-operation count with 2 decimals below 10, 1 below
// 100, none above.
func fmtPerOp(x float64) string {
	switch {
	case x < 10:
		return fmt.Sprintf("%.2f", x)
	case x < 100:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.0f", x)
	}
}

// fmtCount prints a rate with 3 or 4 significant digits and a k/M suffix.
func fmtCount(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e4:
		return fmt.Sprintf("%.1fk", x/1e3)
	case x >= 1e3:
		return fmt.Sprintf("%.2fk", x/1e3)
	default:
		return fmt.Sprintf("%.0f", x)
	}
}

// fmtNs prints a latency in ns, µs or ms with about 3 significant digits.
func fmtNs(ns float64) string {
	switch {
	case ns <= 0:
		return "-"
	case ns < 1e3:
		return fmt.Sprintf("%.0fns", ns)
	case ns < 1e4:
		return fmt.Sprintf("%.2fµs", ns/1e3)
	case ns < 1e5:
		return fmt.Sprintf("%.1fµs", ns/1e3)
	case ns < 1e6:
		return fmt.Sprintf("%.0fµs", ns/1e3)
	case ns < 1e7:
		return fmt.Sprintf("%.2fms", ns/1e6)
	default:
		return fmt.Sprintf("%.1fms", ns/1e6)
	}
}

// fmtBytes prints a size in GiB, MiB or KiB.
func fmtBytes(n int64) string {
	if n >= 1<<30 && n%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// fmtFraction prints a fraction as a percentage, "?" if unknown.
func fmtFraction(f float64) string {
	if f < 0 || math.IsNaN(f) {
		return "?"
	}
	return fmt.Sprintf("%.1f%%", 100*f)
}

// fmtSeconds prints a duration given in seconds.
func fmtSeconds(s float64) string {
	if s < 1 {
		return fmt.Sprintf("%.0fms", s*1000)
	}
	return fmt.Sprintf("%gs", s)
}
