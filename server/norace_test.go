//go:build !race

package server

// raceEnabled is true under -race, whose instrumentation allocates where the code
// itself does not, so allocation counts are checked without it.
const raceEnabled = false
