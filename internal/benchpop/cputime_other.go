//go:build !unix

package benchpop

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }
