//go:build !unix

package scanbench

import "time"

func processCPU() (time.Duration, bool) { return 0, false }
