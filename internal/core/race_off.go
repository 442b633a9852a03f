//go:build !race

package core

func raceRelease(*Record) {}
func raceAcquire(*Record) {}
