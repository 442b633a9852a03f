// Package core is the operation lifecycle every backend shares: the op
// record and its state machine, the in-flight table that hands out
// never-reused identifiers, per-descriptor reference counts that make Close
// wait, and the statistics. Backends are thin drivers: they submit a record
// to the kernel, ask the kernel to cancel it, and report its completion with
// Table.Complete. Everything the contract promises is kept here, once.
package core
