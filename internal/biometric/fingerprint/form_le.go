//go:build amd64 || arm64

package fingerprint

// formLE: this machine is little-endian and loads unaligned words, so a
// gallery form's geometry and sketches are copied into the slab as they
// are (cylGeom is four little-endian uint16 in memory, as in the form).
const formLE = true
