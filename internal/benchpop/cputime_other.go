//go:build !unix

package benchpop

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }

// sysTime is not measured here.
func sysTime() (time.Duration, int64) { return 0, 0 }
