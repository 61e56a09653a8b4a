//go:build race

package httpapi

// raceEnabled: the race detector makes every request several times slower.
const raceEnabled = true
