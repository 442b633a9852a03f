//go:build unix && !linux

package aiotest

// mapNoReserve: untouched anonymous pages commit nothing here anyway.
const mapNoReserve = 0
