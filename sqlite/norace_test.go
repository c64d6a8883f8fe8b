//go:build !race

package sqlite

// raceEnabled is true under -race, where SQLite (C translated to Go) runs many times
// slower, so slow tests check a sample.
const raceEnabled = false
