package sim

// Options configure a Driver.
type Options struct {
	// Seed chooses every decision; the same seed and the same sequence of
	// calls give the same outcomes. It must not be 0.
	Seed int64
	// Faults are the rates of injected errors; zero injects none.
	Faults Faults
	// Workers bounds the portable driver's worker threads underneath
	// (descriptors that are neither files nor pollable); 0: its default.
	Workers int
}

// Faults are the rates (0 to 1) at which the simulator fails operations
// with errors a real kernel may return, without running them (nothing is
// written). They apply to writes to disk files and to fsync.
type Faults struct {
	ENOSPC float64 // no space left on device
	EIO    float64 // an I/O error: a failing disk, a lost network file system
}
