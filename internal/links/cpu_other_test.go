//go:build !unix

package links_test

func processCPU() int64 { return 0 }
