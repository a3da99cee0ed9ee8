package benchkit

import (
	"strings"
	"testing"
)

// A scheduler trace as the Go runtime inside the test host prints it
// (GODEBUG=schedtrace=1000,scheddetail=1), cut short, between host log lines.
const schedTrace = `[2026/11/28 18:29:51.000] [ info] [host] 1 instance(s) running
SCHED 2010ms: gomaxprocs=2 idleprocs=1 threads=9 spinningthreads=0 needspinning=0 idlethreads=3 runqueue=0
  P0: status=0 schedtick=30 syscalltick=44 m=nil runqsize=0 gfreecnt=10 timerslen=4
  M8: p=nil curg=19 mallocing=0 throwing=0 preemptoff= locks=0 dying=0 spinning=false blocked=false lockedg=19
  G11: status=4(IO wait) m=nil lockedm=nil
  G17: status=3(chan receive) m=1 lockedm=1
  G2: status=4(force gc (idle)) m=nil lockedm=nil
  G3: status=4(GC sweep wait) m=nil lockedm=nil
  G6: status=4(finalizer wait) m=nil lockedm=nil
  G19: status=11() m=8 lockedm=8
  G20: status=4(select) m=nil lockedm=nil
  G38: status=6() m=nil lockedm=nil
[2026/11/28 18:29:52.000] [ info] [input:docker_logs:docker_logs.0] a line of the plugin
SCHED 3012ms: gomaxprocs=2 idleprocs=1 threads=9
  G11: status=4(IO wait) m=nil lockedm=nil
  G20: status=4(select) m=nil lockedm=nil
  G38: status=6() m=nil lockedm=nil
`

func TestReadStderrCountsGoroutines(t *testing.T) {
	h := &Host{goroutines: -1}
	var log strings.Builder
	h.readStderr(strings.NewReader(schedTrace), &log)
	// The last complete trace: G11 and G20 (G38 is dead).
	if n, _ := h.Goroutines(); n != 2 {
		t.Errorf("goroutines = %d, want 2", n)
	}
	// Only the host's own lines reach its log.
	want := "[2026/11/28 18:29:51.000] [ info] [host] 1 instance(s) running\n" +
		"[2026/11/28 18:29:52.000] [ info] [input:docker_logs:docker_logs.0] a line of the plugin\n"
	if log.String() != want {
		t.Errorf("log = %q, want %q", log.String(), want)
	}
}

func TestReadStderrFirstTrace(t *testing.T) {
	h := &Host{goroutines: -1}
	first := schedTrace[:strings.Index(schedTrace, "[2026/11/28 18:29:52")]
	h.readStderr(strings.NewReader(first), &strings.Builder{})
	// G11, G17, G19, G20: not dead, not the runtime's own.
	if n, _ := h.Goroutines(); n != 4 {
		t.Errorf("goroutines = %d, want 4", n)
	}
}
