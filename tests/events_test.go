package tests

// Records go into Fluent Bit through the plugin's own event collector as
// they are read, not at the proxy's collect.

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker-logs/docker_logs/tests/internal/dockertest"
)

// With the proxy's collect an hour apart, every line still arrives, once
// and in order: the event collector appended them, on the instance's
// thread (the host fails an append from any other, or one made while the
// instance is paused), in fewer wakes than lines.
func TestRecordsAppendedAsRead(t *testing.T) {
	d := needDocker(t)
	name := "evented" + suffix()
	metrics := filepath.Join(t.TempDir(), "metrics.prom")
	const lines = 2000
	h := startHost(t, append([]string{"--interval-ms", "3600000", "--metrics", metrics},
		instanceArgs(d.Host(), "alias=evented", "include_names="+name)...)...)
	id, err := d.Run(dockertest.Run{Name: name, Args: []string{"-n", strconv.Itoa(lines), "-stream", "both", "-rate", "2000"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Remove(id) })
	recs := h.waitFor("every line", 60*time.Second, func(r []record) bool { return len(r) >= 2*lines })
	assertSequence(t, recs, id, "stdout", "stdout", lines)
	assertSequence(t, recs, id, "stderr", "stderr", lines)
	h.stop()
	if !strings.Contains(h.output.String(), "records are appended as they are read") {
		t.Errorf("the plugin did not say it appends as it reads:\n%s", grepLines(h.output.String(), "docker_logs:evented"))
	}
	if !strings.Contains(h.output.String(), "stats: collects=0 ") {
		t.Errorf("the proxy's collect ran: %s", grepLines(h.output.String(), "stats:"))
	}
	wakes := promValues(t, metrics)[`fluentbit_docker_logs_collector_wakes_total{name="evented"}`]
	if wakes < 1 || wakes >= 2*lines {
		t.Errorf("%v wakes for %d lines", wakes, 2*lines)
	}
}
