package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/waitforit/aio"
)

// mechCounts is how many operations each of aio's mechanisms served (see
// mechanism.go at the repository's root): the deltas of a ring's Stats
// over a measured window, or their sum over rounds.
type mechCounts struct {
	Driver    string `json:"driver"`     // what the driver is called in the table: "ring", "workers", ...
	Direct    uint64 `json:"direct"`     // done at once in the caller (a cached read)
	Readiness uint64 `json:"readiness"`  // the caller's non-blocking call, waiting in Go's netpoller if it had to
	DriverOps uint64 `json:"driver_ops"` // through the backend's driver
}

// driverLabel names a backend's driver for the mech column: "ring" for
// io_uring, "workers" for the portable backend's worker pool.
func driverLabel(backend string) string {
	switch backend {
	case "uring":
		return "ring"
	case "portable":
		return "workers"
	}
	return backend
}

// mechDelta is what a ring's mechanisms served between two Stats.
func mechDelta(backend string, before, after aio.Stats) mechCounts {
	return mechCounts{
		Driver:    driverLabel(backend),
		Direct:    after.Direct - before.Direct,
		Readiness: after.Readiness - before.Readiness,
		DriverOps: after.Driver - before.Driver,
	}
}

// add adds o's counts to m's.
func (m *mechCounts) add(o mechCounts) {
	m.Direct += o.Direct
	m.Readiness += o.Readiness
	m.DriverOps += o.DriverOps
}

// mechShare is the smallest share of the operations that the mech column
// names beside the dominant mechanism.
const mechShare = 0.05

// String is the mech column: the mechanism that served most operations,
// then each other that served more than 5% of them with its share, most
// first: "ready", "direct+ring 40%", "ring+direct 12%+ready 6%". "none"
// if nothing was counted.
func (m mechCounts) String() string {
	type part struct {
		name string
		n    uint64
	}
	parts := []part{{"direct", m.Direct}, {"ready", m.Readiness}, {m.Driver, m.DriverOps}}
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].n > parts[j].n })
	total := m.Direct + m.Readiness + m.DriverOps
	if total == 0 {
		return "none"
	}
	var b strings.Builder
	b.WriteString(parts[0].name)
	for _, p := range parts[1:] {
		if share := float64(p.n) / float64(total); share > mechShare {
			fmt.Fprintf(&b, "+%s %.0f%%", p.name, 100*share)
		}
	}
	return b.String()
}
