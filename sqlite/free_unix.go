//go:build linux || darwin || freebsd

package sqlite

import "golang.org/x/sys/unix"

// freeBytes returns the space free for unprivileged users on the file system of dir.
func freeBytes(dir string) (uint64, bool) {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return 0, false
	}
	return uint64(st.Bavail) * uint64(st.Bsize), true
}
