//go:build !linux

package main

// depthFloors: op-32's floors are Linux system calls (see floor_linux.go).
func depthFloors(depth int) []floorJob { return nil }
