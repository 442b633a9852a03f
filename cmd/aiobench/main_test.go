package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/waitforit/aio"
)

// quickArgs are the flags of a smoke run in a test's own directory,
// shrunk further under -short.
func quickArgs(t *testing.T, only string) []string {
	args := []string{"-quick", "-dir", t.TempDir(), "-only", only}
	if testing.Short() {
		args = append(args, "-duration", "50ms", "-rounds", "1", "-size", "4MiB", "-cold-size", "8MiB")
	}
	return args
}

// TestQuickRun runs the tool's core on every workload but the ones that
// only repeat another's code (read-32, direct-32) and checks that every
// available implementation measured something, that no invariant
// failed, and that the files are gone afterwards. cold-32 may be n/a
// where the file cannot leave the page cache (a RAM file system, not
// Linux), and nothing else.
func TestQuickRun(t *testing.T) {
	names := []string{"read-1", "op-32", "cold-32", "write-fsync", "pingpong", "cancel-storm",
		"cancel-latency", "cancel-latency-op", "cancel-latency-spin", "tcp-echo-1", "tcp-echo", "tcp-echo-1000", "http"}
	args := append(quickArgs(t, strings.Join(names, ",")), "-json")
	dir := args[2]
	var stdout, stderr bytes.Buffer
	if code := execute(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d\nstderr:\n%s\nstdout:\n%s", code, stderr.String(), stdout.String())
	}
	var res results
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("-json output: %v\n%s", err, stdout.String())
	}
	if len(res.Failures) != 0 {
		t.Errorf("failures: %v", res.Failures)
	}
	if len(res.Workloads) != len(names) {
		t.Fatalf("%d workloads in the results, want %d", len(res.Workloads), len(names))
	}
	available := 0
	for _, im := range res.Impls {
		if im.Err == "" {
			available++
		}
	}
	for _, wr := range res.Workloads {
		if len(wr.Rows) != available {
			t.Errorf("%s: %d rows, want one per available implementation (%d)", wr.Name, len(wr.Rows), available)
		}
		for _, r := range wr.Rows {
			if r.NA != "" {
				if wr.Name != "cold-32" || errEvict == nil && !strings.Contains(r.NA, "RAM file system") {
					t.Errorf("%s/%s: n/a: %s", wr.Name, r.Impl, r.NA)
				}
				continue
			}
			if r.OpsPerSec <= 0 || len(r.Rounds) == 0 || r.P50Ns <= 0 || len(r.Latency) == 0 {
				t.Errorf("%s/%s measured nothing: %+v", wr.Name, r.Impl, r)
			}
			if !wr.NoRatio && r.Kind == "aio" && r.Ratio <= 0 {
				t.Errorf("%s/%s: no ratio to the baseline", wr.Name, r.Impl)
			}
			if wr.LatRatio && r.Kind == "aio" && (r.P50Ratio <= 0 || r.P99Ratio <= 0) {
				t.Errorf("%s/%s: no latency ratio to the baseline", wr.Name, r.Impl)
			}
			if r.Kind == "aio" && r.Mech == "" {
				t.Errorf("%s/%s: no mech", wr.Name, r.Impl)
			}
		}
	}
	left, err := os.ReadDir(dir)
	if err != nil || len(left) != 0 {
		t.Errorf("files left in %s: %v (%v)", dir, left, err)
	}
}

// TestCorruptDataFails feeds the read workload a data file with corrupted
// blocks: the verifier must catch them and the tool must exit non-zero.
func TestCorruptDataFails(t *testing.T) {
	cfg, _, err := parseFlags(quickArgs(t, "read-1"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.duration = 50 * time.Millisecond
	cfg.rounds = 1
	cfg.afterCreate = func(name string) error {
		f, err := os.OpenFile(name, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		zero := make([]byte, blockSize)
		for b := int64(0); b < cfg.size/blockSize; b += 8 { // every 8th block
			if _, err := f.WriteAt(zero, b*blockSize); err != nil {
				return err
			}
		}
		return nil
	}
	res, err := run(context.Background(), cfg, newProgress(io.Discard, false))
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]bool{}
	for _, f := range res.Failures {
		if !strings.Contains(f, "header says") {
			t.Errorf("unexpected failure: %s", f)
		}
		failed[strings.SplitN(strings.SplitN(f, "/", 2)[1], " ", 2)[0]] = true
	}
	for _, im := range res.Impls {
		if im.Err == "" && !failed[im.Name] {
			t.Errorf("%s read corrupted blocks and nothing failed (failures: %v)", im.Name, res.Failures)
		}
	}
	var out bytes.Buffer
	writeTable(&out, res)
	if !strings.Contains(out.String(), "FAILED") {
		t.Errorf("the table does not say FAILED:\n%s", out.String())
	}
}

// TestNoVerifySkipsTheBytes: with -noverify the same corrupted file
// passes (the reads' bytes are not looked at, only their counts), and the
// table says that the bytes were not checked.
func TestNoVerifySkipsTheBytes(t *testing.T) {
	cfg, _, err := parseFlags(append(quickArgs(t, "read-1,op-32"), "-noverify"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.noVerify {
		t.Fatal("-noverify not parsed")
	}
	cfg.duration = 50 * time.Millisecond
	cfg.rounds = 1
	cfg.afterCreate = func(name string) error {
		return os.WriteFile(name, make([]byte, cfg.size), 0o644) // every block wrong
	}
	res, err := run(context.Background(), cfg, newProgress(io.Discard, false))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failures) > 0 {
		t.Errorf("failures with -noverify: %v", res.Failures)
	}
	var out bytes.Buffer
	writeTable(&out, res)
	if !strings.Contains(out.String(), "not its bytes: -noverify") {
		t.Errorf("the table does not say the bytes went unchecked:\n%s", out.String())
	}
}

// TestEchoTamperFails makes the tcp-echo server alter one byte of one
// echo per connection: every implementation must catch it, and the tool
// must still close everything and exit non-zero.
func TestEchoTamperFails(t *testing.T) {
	cfg, _, err := parseFlags(quickArgs(t, "tcp-echo"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.duration = 50 * time.Millisecond
	cfg.rounds = 1
	cfg.echoTamper = func(seq int, msg []byte) {
		if seq == 3 {
			msg[40] ^= 0x10
		}
	}
	res, err := run(context.Background(), cfg, newProgress(io.Discard, false))
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]bool{}
	for _, f := range res.Failures {
		if !strings.Contains(f, "got back") {
			t.Errorf("unexpected failure: %s", f)
		}
		failed[strings.SplitN(strings.SplitN(f, "/", 2)[1], " ", 2)[0]] = true
	}
	for _, im := range res.Impls {
		if im.Err == "" && !failed[im.Name] {
			t.Errorf("%s: an altered echo went unnoticed (failures: %v)", im.Name, res.Failures)
		}
	}
}

// TestVerifier checks the block verifier against every kind of damage.
func TestVerifier(t *testing.T) {
	p := newPattern()
	good := make([]byte, blockSize)
	p.fill(good, 1234, 7)
	if err := p.verify(good, 1234, 7); err != nil {
		t.Fatalf("intact block: %v", err)
	}
	damage := map[string]func([]byte) ([]byte, uint64, uint64){
		"wrong block":    func(b []byte) ([]byte, uint64, uint64) { return b, 1235, 7 },
		"stale gen":      func(b []byte) ([]byte, uint64, uint64) { return b, 1234, 8 },
		"body byte":      func(b []byte) ([]byte, uint64, uint64) { b[3000] ^= 1; return b, 1234, 7 },
		"header byte":    func(b []byte) ([]byte, uint64, uint64) { b[2] ^= 0x80; return b, 1234, 7 },
		"zeros":          func(b []byte) ([]byte, uint64, uint64) { clear(b); return b, 0, 0 },
		"short":          func(b []byte) ([]byte, uint64, uint64) { return b[:100], 1234, 7 },
		"other template": func(b []byte) ([]byte, uint64, uint64) { p.fill(b, 1234+1, 7); copy(b, good[:16]); return b, 1234, 7 },
	}
	for name, d := range damage {
		buf, block, gen := d(append([]byte(nil), good...))
		if err := p.verify(buf, block, gen); err == nil {
			t.Errorf("%s: the verifier accepted it", name)
		}
	}
}

// TestRingStatsCheck checks the ring counter invariant.
func TestRingStatsCheck(t *testing.T) {
	if err := checkRingStats(aio.Stats{Submitted: 10, Completed: 10}); err != nil {
		t.Errorf("balanced stats: %v", err)
	}
	for _, s := range []aio.Stats{
		{Submitted: 10, Completed: 9, InFlight: 1},
		{Submitted: 10, Completed: 10, InFlight: 1},
		{Submitted: 9, Completed: 10},
	} {
		if checkRingStats(s) == nil {
			t.Errorf("%+v passed", s)
		}
	}
}

// TestHistogram checks bucket bounds and quantiles.
func TestHistogram(t *testing.T) {
	prevHi := ^uint64(0)
	for i := range bucketCount {
		lo, hi := bucketBounds(i)
		if lo != prevHi+1 || hi < lo || bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d: [%d, %d] after %d", i, lo, hi, prevHi)
		}
		prevHi = hi
	}
	var h histogram
	for v := 1; v <= 100000; v++ {
		h.record(time.Duration(v))
	}
	for _, q := range []float64{0.5, 0.99, 0.999} {
		got, want := float64(h.quantile(q)), q*100000
		if got < want*0.97 || got > want*1.03 {
			t.Errorf("quantile(%g) = %g, want %g within 3%%", q, got, want)
		}
	}
	var empty histogram
	if empty.quantile(0.5) != 0 || len(empty.cdf()) != 0 {
		t.Error("empty histogram")
	}
}

// TestFlags checks usage errors and -quick's defaults.
func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-only", "nope"}, {"-size", "12X"}, {"-rounds", "0"}, {"extra"}, {"-impl", "fortran"},
	} {
		if code := execute(args, io.Discard, io.Discard); code != 2 {
			t.Errorf("%v: exit status %d, want 2", args, code)
		}
	}
	cfg, _, err := parseFlags([]string{"-quick", "-rounds", "5"}, io.Discard)
	if err != nil || cfg.size != 32<<20 || cfg.rounds != 5 || cfg.duration != 100*time.Millisecond {
		t.Errorf("-quick -rounds 5: %+v, %v", cfg, err)
	}
	if n, err := parseSize("256MiB"); n != 256<<20 || err != nil {
		t.Errorf("parseSize(256MiB) = %d, %v", n, err)
	}
}

// TestParseFio checks the fio command line and the parsing of its output.
func TestParseFio(t *testing.T) {
	args := strings.Join(fioArgs(fioURing(true), "/d/a:b", 1<<20, 3*time.Second), " ")
	for _, want := range []string{"--ioengine=io_uring", "--iodepth=32", "--iodepth_batch_submit=32", "--fixedbufs", "--registerfiles", "--direct=1", `--filename=/d/a\:b`, "--runtime=3000ms"} {
		if !strings.Contains(args, want) {
			t.Errorf("fio args lack %s: %s", want, args)
		}
	}
	out := []byte(`note: a warning
{"jobs": [{"error": 0, "usr_cpu": 25.0, "sys_cpu": 75.0, "ctx": 900000,
  "read": {"iops": 600000.5, "total_ios": 1800000, "runtime": 3000,
    "lat_ns": {"percentile": {"50.000000": 47872, "99.000000": 104960, "99.900000": 175104}}}}]}`)
	r, err := parseFio("fio io_uring", out)
	if err != nil {
		t.Fatal(err)
	}
	if r.OpsPerSec != 600000.5 || r.OpsPerCPUSec != 600000.5 || r.P99Ns != 104960 || r.AllocsPerOp != -1 || r.CswPerOp != 0.5 {
		t.Errorf("parsed %+v", r)
	}
}

// TestReport checks the -report page: the table, and two well-formed SVG
// plots (CDF and tail) for each workload with latencies, one line each
// per implementation; none for a workload without.
func TestReport(t *testing.T) {
	var h1, h2 histogram
	for i := range 1000 {
		h1.record(time.Duration(1000 + i*10))
		h2.record(time.Duration(5000 + i*i))
	}
	res := &results{Workloads: []*workloadResult{
		{Name: "read-32", Title: "cached reads", Rows: []*row{
			{Impl: "aio-uring", Latency: h1.cdf()},
			{Impl: "std", Latency: h2.cdf()},
		}},
		{Name: "nothing", Title: "no latencies", Rows: []*row{{Impl: "std", NA: "not here"}}},
	}}
	var b bytes.Buffer
	if err := writeReport(&b, res); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if !strings.Contains(page, "read-32") || !strings.Contains(page, "<pre>") {
		t.Fatal("the report lacks the table")
	}
	svgs := strings.Split(page, "<svg")[1:]
	if len(svgs) != 2 {
		t.Fatalf("%d plots, want 2 (CDF and tail of the one workload with latencies)", len(svgs))
	}
	for _, s := range svgs {
		s = "<svg" + s[:strings.Index(s, "</svg>")] + "</svg>"
		d := xml.NewDecoder(strings.NewReader(s))
		for {
			if _, err := d.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("plot is not well-formed SVG: %v", err)
			}
		}
		for _, impl := range []string{"aio-uring", "std"} {
			if !strings.Contains(s, ">"+impl+"<") {
				t.Errorf("plot lacks a legend entry for %s", impl)
			}
		}
	}
	if strings.Contains(page, "<h2>nothing</h2>") {
		t.Error("a workload without latencies got plots")
	}
}

// TestHTTPTamperFails makes the http server alter one byte of each
// client's first request in the window: every implementation must catch it,
// and the tool must still shut the server down and exit non-zero.
func TestHTTPTamperFails(t *testing.T) {
	cfg, _, err := parseFlags(quickArgs(t, "http"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.duration = 50 * time.Millisecond
	cfg.rounds = 1
	cfg.httpTamper = func(seq uint64, body []byte) {
		if seq == 1 { // 0 is the warm-up, outside the window
			body[100] ^= 0x01
		}
	}
	res, err := run(context.Background(), cfg, newProgress(io.Discard, false))
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]bool{}
	for _, f := range res.Failures {
		if !strings.Contains(f, "body byte 100") {
			t.Errorf("unexpected failure: %s", f)
		}
		failed[strings.SplitN(strings.SplitN(f, "/", 2)[1], " ", 2)[0]] = true
	}
	for _, im := range res.Impls {
		if im.Err == "" && !failed[im.Name] {
			t.Errorf("%s: an altered response went unnoticed (failures: %v)", im.Name, res.Failures)
		}
	}
}

// TestCorruptColdFails corrupts every 8th block of cold-32's file (the
// writes are still dirty when the run evicts the file, so they must
// reach the disk first): the verifier must catch them on every
// implementation.
func TestCorruptColdFails(t *testing.T) {
	cfg, _, err := parseFlags(quickArgs(t, "cold-32"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.duration = 50 * time.Millisecond
	cfg.rounds = 1
	cfg.coldSize = 4 << 20
	cfg.afterCreate = func(name string) error {
		f, err := os.OpenFile(name, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		zero := make([]byte, blockSize)
		for b := int64(0); b < cfg.coldSize/blockSize; b += 8 {
			if _, err := f.WriteAt(zero, b*blockSize); err != nil {
				return err
			}
		}
		return nil
	}
	res, err := run(context.Background(), cfg, newProgress(io.Discard, false))
	if err != nil {
		t.Fatal(err)
	}
	if why := res.Workloads[0].Rows[0].NA; why != "" {
		t.Skipf("cold-32 cannot run here: %s", why)
	}
	failed := map[string]bool{}
	for _, f := range res.Failures {
		if !strings.Contains(f, "header says") {
			t.Errorf("unexpected failure: %s", f)
		}
		failed[strings.SplitN(strings.SplitN(f, "/", 2)[1], " ", 2)[0]] = true
	}
	for _, im := range res.Impls {
		if im.Err == "" && !failed[im.Name] {
			t.Errorf("%s read corrupted blocks of the cold file and nothing failed (failures: %v)", im.Name, res.Failures)
		}
	}
}

// TestMechString checks the mech column: the dominant mechanism, then
// every other above 5% with its share, most first.
func TestMechString(t *testing.T) {
	for _, c := range []struct {
		m    mechCounts
		want string
	}{
		{mechCounts{Driver: "ring"}, "none"},
		{mechCounts{Driver: "ring", Readiness: 1000}, "ready"},
		{mechCounts{Driver: "ring", Readiness: 1000, Direct: 50}, "ready"}, // 4.8%
		{mechCounts{Driver: "ring", Direct: 600, DriverOps: 400}, "direct+ring 40%"},
		{mechCounts{Driver: "workers", Direct: 100, DriverOps: 800, Readiness: 100}, "workers+direct 10%+ready 10%"},
		{mechCounts{Driver: "ring", Direct: 20, DriverOps: 70, Readiness: 10}, "ring+direct 20%+ready 10%"},
	} {
		if got := c.m.String(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.m, got, c.want)
		}
	}
	before := aio.Stats{Submitted: 10, Direct: 5, Readiness: 3, Driver: 2}
	after := aio.Stats{Submitted: 30, Direct: 5, Readiness: 20, Driver: 5}
	if got := mechDelta("portable", before, after); got != (mechCounts{Driver: "workers", Readiness: 17, DriverOps: 3}) {
		t.Errorf("mechDelta: %+v", got)
	}
}

// TestTableColumns checks that the table shows the mech, csw/op and
// latency-ratio columns of a row, and "-" where they are unknown.
func TestTableColumns(t *testing.T) {
	aioRow := &row{Impl: "aio-uring", Kind: "aio", Rounds: []roundResult{{}}, OpsPerSec: 1000, P50Ns: 3000, P99Ns: 9000,
		CswPerOp: 2.5, ThreadsActive: 3, ThreadsTotal: 9, Mech: "direct+ring 40%", P50Ratio: 1.5, P99Ratio: 3}
	stdRow := &row{Impl: "std", Kind: "std", Rounds: []roundResult{{}}, OpsPerSec: 1000, P50Ns: 2000, P99Ns: 3000,
		CswPerOp: -1, ThreadsActive: -1}
	res := &results{Workloads: []*workloadResult{{Name: "cancel-latency", Rows: []*row{aioRow, stdRow}}}}
	var b bytes.Buffer
	writeTable(&b, res)
	lines := strings.Split(b.String(), "\n")
	var header, aioLine, stdLine []string
	for _, l := range lines {
		f := strings.Fields(l)
		switch {
		case len(f) > 0 && f[0] == "workload":
			header = f
		case len(f) > 1 && f[1] == "aio-uring":
			aioLine = f
		case len(f) > 0 && f[0] == "std":
			stdLine = f
		}
	}
	for _, want := range []string{"mech", "csw/op", "threads", "p50/p99"} {
		if !slices.Contains(header, want) {
			t.Errorf("the header lacks %s: %v", want, header)
		}
	}
	for _, want := range []string{"direct+ring", "40%", "2.50", "3/9", "1.50/3.00"} {
		if !slices.Contains(aioLine, want) {
			t.Errorf("the aio row lacks %s: %v", want, aioLine)
		}
	}
	if len(stdLine) < 3 || stdLine[1] != "-" || slices.Contains(stdLine, "-1") {
		t.Errorf("the std row: %v; want - for its mech, csw/op and threads", stdLine)
	}
}
