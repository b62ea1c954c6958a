//go:build unix

package links_test

import "syscall"

// processCPU is the processor time this process has used, in nanoseconds:
// benchmarks report it per operation, as the writer's cost does not show
// in wall time when it runs beside the code that feeds it.
func processCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
