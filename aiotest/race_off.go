//go:build !race

package aiotest

const raceEnabled = false
