package tests

import (
	"fmt"
	"testing"
	"time"

	"github.com/docker-logs/docker_logs/tests/internal/dockertest"
)

// A container writing faster than the plugin hands its lines over (on the
// fallback path: one collect of chunk_max_size a second, the buffer full
// at every collect) is read forward once: its streams are not cut while
// behind, and a reopen does not read far back. Lines read again and
// dropped stay under 5% of those delivered; every line once, in order.
func TestLaggingContainerIsReadOnce(t *testing.T) {
	d := needDocker(t)
	name := "lagging" + suffix()
	// About 700 records a second handed over (256K at ~370 bytes a record)
	// against 3,000 written for 10 s: behind for about 40 s, past its 2 s
	// stream lifetime many times over.
	const lines, rate = 30000, 3000
	h := startHostBin(t, hostNoAppend, instanceArgs(d.Host(), "include_names="+name, "buffer_max_size=256K", "chunk_max_size=256K",
		"stream_lifetime=2s", "stream_idle_timeout=2s", "heartbeat_timeout=5s", "status_listen=127.0.0.1:0")...)
	h.waitLog("connected to docker", 30*time.Second)
	id, err := d.Run(dockertest.Run{Name: name, Args: []string{"-n", fmt.Sprint(lines), "-rate", fmt.Sprint(rate)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Remove(id) })
	s := &seqScan{t: t, path: h.out, id: id, next: 1}
	s.waitAll(lines, 3*time.Minute, 500*time.Millisecond)
	addr := h.statusAddr()
	repeats := metricValues(t, addr, "docker_logs_container_repeats_total")["container_id="+id+",container_name="+name+",input=docker_logs.0"]
	streams := metricValues(t, addr, "docker_logs_streams_opened_total")["input=docker_logs.0"]
	t.Logf("%d lines delivered; %d read again and dropped; %d streams opened", lines, int(repeats), int(streams))
	if repeats > 0.05*lines {
		t.Fatalf("%d lines read again for %d delivered: over 5%%", int(repeats), lines)
	}
}
