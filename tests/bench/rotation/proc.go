package main

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/docker-logs/docker_logs/tests/bench/internal/benchkit"
)

// clkTck is USER_HZ, the unit of utime/stime in /proc/<pid>/stat. It is 100
// on every Linux architecture we run on; getconf confirms when available.
var clkTck = func() int64 {
	if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && v > 0 {
			return v
		}
	}
	return 100
}()

// dockerdPID reads the daemon's pidfile and checks that the pid is a dockerd
// (a stale pidfile could name a recycled pid).
func dockerdPID(pidfile string) (int, error) {
	b, err := os.ReadFile(pidfile)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: %v", pidfile, err)
	}
	cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmd, []byte("dockerd")) {
		return 0, fmt.Errorf("%s names pid %d, which is not a running dockerd", pidfile, pid)
	}
	return pid, nil
}

// cpuTime is utime+stime of a process (all its threads, dead ones included).
// Resolution is one clock tick (10 ms): hence batches of reconnects.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces: split after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	// f[0] is field 3 (state): utime is field 14, stime field 15.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return time.Duration(ut+st) * time.Second / time.Duration(clkTck), nil
}

// machine describes where the figures come from: absolute CPU times only
// compare on the same kind of machine.
func machine() string {
	m := benchkit.DescribeMachine()
	ver := "dockerd --version: not found"
	for _, p := range []string{"dockerd", "/usr/sbin/dockerd", "/usr/bin/dockerd"} {
		if out, err := exec.Command(p, "--version").Output(); err == nil {
			ver = strings.TrimSpace(string(out))
			break
		}
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("# date: %s  host: %s\n# nproc: %d  cpu: %s  clk_tck: %d  loadavg: %s\n# %s  (%s)",
		time.Now().Format(time.RFC3339), host, m.NProc, cmp.Or(m.CPU, "unknown"), clkTck,
		cmp.Or(m.LoadAvg, "?"), ver, runtime.Version())
}
