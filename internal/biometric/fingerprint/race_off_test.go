//go:build !race

package fingerprint

// raceDetector: this test binary runs under the race detector.
const raceDetector = false
