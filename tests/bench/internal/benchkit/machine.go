package benchkit

import (
	"bufio"
	"os"
	"runtime"
	"strings"
)

// Machine describes where figures come from: absolute rates and CPU times
// only compare on the same kind of machine, under a similar load.
type Machine struct {
	NProc   int    // usable CPUs
	CPU     string // model name from /proc/cpuinfo, "" if unknown
	LoadAvg string // 1, 5 and 15 min load averages, "" if unknown
}

// DescribeMachine reads the Machine this process runs on.
func DescribeMachine() Machine {
	m := Machine{NProc: runtime.NumCPU()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	return m
}

// InotifyInstances is fs.inotify.max_user_instances: dockerd follows each
// json-file log with an inotify instance of its own, and past this many it
// polls the log every 200 ms instead (latency, BENCHMARKS.md P4).
func InotifyInstances() string {
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_user_instances")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
