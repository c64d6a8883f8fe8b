//go:build !(linux || darwin || freebsd)

package sqlite

// freeBytes does not know the free space here: only SQLITE_FULL counts as a full disk.
func freeBytes(dir string) (uint64, bool) { return 0, false }
