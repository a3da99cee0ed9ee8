package benchkit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DockerdPID finds the pid of the private daemon of dockerd.sh's state
// directory dir: the pid in its pidfile (dir/dockerd.pid) when that names a
// live dockerd, else the process that listens on its socket (a daemon
// started with another pidfile). Its CPU is what a benchmark measures of
// the daemon: json-file logging and the logs endpoint both run in dockerd
// itself, not in containerd.
func DockerdPID(dir string) (int, error) {
	pidfile := filepath.Join(dir, "dockerd.pid")
	if b, err := os.ReadFile(pidfile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && isDockerd(pid) {
			return pid, nil
		}
	}
	pid, err := socketListener(Socket(dir))
	if err != nil {
		return 0, fmt.Errorf("no live dockerd in %s and %v (%s)", pidfile, err, StartHint)
	}
	if !isDockerd(pid) {
		return 0, fmt.Errorf("pid %d listens on %s but is not a dockerd", pid, Socket(dir))
	}
	return pid, nil
}

// isDockerd: pid is alive (a zombie has an empty command line) and runs
// dockerd; a stale pidfile may name a recycled pid.
func isDockerd(pid int) bool {
	cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	name, _, _ := bytes.Cut(cmd, []byte{0})
	return filepath.Base(string(name)) == "dockerd"
}

// socketListener returns the pid of a process holding the listening unix
// socket bound at path: its inode from /proc/net/unix, then the process
// whose file descriptors include socket:[inode].
func socketListener(path string) (int, error) {
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return 0, err
	}
	inode := ""
	for _, l := range strings.Split(string(b), "\n") {
		// Num RefCount Protocol Flags Type St Inode Path; flag 0x10000 is
		// __SO_ACCEPTCON, a listening socket.
		f := strings.Fields(l)
		if len(f) == 8 && f[7] == path {
			if fl, err := strconv.ParseUint(f[3], 16, 32); err == nil && fl&0x10000 != 0 {
				inode = f[6]
				break
			}
		}
	}
	if inode == "" {
		return 0, fmt.Errorf("nothing listens on %s", path)
	}
	want := "socket:[" + inode + "]"
	procs, _ := filepath.Glob("/proc/[0-9]*/fd")
	for _, fdDir := range procs {
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink(filepath.Join(fdDir, fd.Name())); err == nil && l == want {
				return strconv.Atoi(filepath.Base(filepath.Dir(fdDir)))
			}
		}
	}
	return 0, fmt.Errorf("no process holds the socket %s (inode %s)", path, inode)
}
