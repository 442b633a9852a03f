//go:build race

package aiotest

// raceEnabled: the race detector slows every round of a stress case
// tenfold; Scale runs fewer of them (drive still goes on until each
// outcome a race case names has been seen).
const raceEnabled = true
