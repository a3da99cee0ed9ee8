package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker-logs/docker_logs/tests/internal/dockertest"
)

// One set of containers read both ways at once, by an engine with source
// api and one with source file: every record is the same, field for field,
// with the same nanosecond stamps, long lines (merged from 16 KiB chunks)
// and a TTY container's lines included.
func TestFileAndAPIRecordsAreEqual(t *testing.T) {
	d := needDocker(t)
	api := runEngine(t, d, "source", "api")
	file := runEngine(t, d, "source", "file")
	const longLines, longSize = 40, 40000
	runs := []dockertest.Run{
		{Name: "both-ways" + suffix(), Args: []string{"-n", "2000", "-stream", "both", "-rate", "4000"}},
		{Name: "both-ways-long" + suffix(), Args: []string{"-n", fmt.Sprint(longLines), "-stream", "both", "-size", fmt.Sprint(longSize)}},
		{Name: "both-ways-tty" + suffix(), TTY: true, Args: []string{"-n", "500"}},
	}
	for _, run := range runs {
		id, err := d.Run(run)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Remove(id) })
		d.Wait(id)
		var viaAPI, viaFile []record
		if strings.Contains(run.Name, "long") {
			// docker logs -t shows a long line's 16 KiB chunks apart: no
			// reference there; each line must arrive whole.
			viaAPI = api.waitFor("the long lines", time.Minute, countOf(id, 2*longLines))
			viaFile = file.waitFor("the long lines", time.Minute, countOf(id, 2*longLines))
			for _, r := range ofContainer(viaFile, id) {
				if n := len(r.str("log")); n != longSize {
					t.Fatalf("a long line of %d bytes arrived as %d", longSize, n)
				}
			}
		} else {
			viaAPI, _ = awaitEveryLineOnce(t, d, api, id)
			viaFile, _ = awaitEveryLineOnce(t, d, file, id)
		}
		a, f := ofContainer(viaAPI, id), ofContainer(viaFile, id)
		if len(a) != len(f) {
			t.Fatalf("%s: %d records through the API, %d from the file", run.Name, len(a), len(f))
		}
		for i := range a {
			if !reflect.DeepEqual(a[i], f[i]) {
				t.Fatalf("%s: record %d differs:\nAPI:  %v\nfile: %v", run.Name, i, a[i], f[i])
			}
		}
		t.Logf("%s: %d records, equal both ways", run.Name, len(a))
	}
}

// A container read from its file, then through the API while its file
// cannot be opened (the mount it is seen through is gone), then from its
// file again, while it writes: every line once, in order; one warning
// names the container and the file.
func TestSourceSwitchesBetweenFileAndAPI(t *testing.T) {
	d := needDocker(t)
	root, err := d.Docker("info", "-f", "{{.DockerRootDir}}")
	if err != nil {
		t.Fatal(err)
	}
	mount := filepath.Join(t.TempDir(), "docker")
	if err := os.Symlink(root, mount); err != nil {
		t.Fatal(err)
	}
	var logOut syncBuffer
	prefix := "switch" + suffix() + "-"
	// Only this test's container: the stream counts below are the engine's.
	r := runEngineOn(t, d.Host(), &logOut, "source", "file", "docker_data_root", root+":"+mount, "include_names", prefix+"*",
		"stream_lifetime", "1s", "stream_idle_timeout", "1s", "heartbeat_timeout", "5s", "plugin_log_level", "debug")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the plugin's log:\n%s", logOut.String())
		}
	})
	const rate, seconds = 1000, 15
	id, err := d.Run(dockertest.Run{Name: prefix + "0", Args: []string{"-n", fmt.Sprint(rate * seconds / 2), "-stream", "both", "-rate", fmt.Sprint(rate)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Remove(id) })
	st := r.e.Stats()
	time.Sleep(4 * time.Second)
	fromFile := st.FileReads.Load()
	if err := os.Remove(mount); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	apiStreams := st.Streams.Load() - st.FileReads.Load()
	if err := os.Symlink(root, mount); err != nil {
		t.Fatal(err)
	}
	before := st.FileReads.Load()
	d.Wait(id)
	recs, _ := awaitEveryLineOnce(t, d, r, id)
	inOrder := newSeqChecker(prefix)
	for _, rec := range recs {
		inOrder.check(rec)
	}
	if len(inOrder.errors) > 0 {
		t.Fatal(strings.Join(inOrder.errors, "\n"))
	}
	if fromFile == 0 || apiStreams == 0 || st.FileReads.Load() == before {
		t.Fatalf("file streams before the switch %d, API streams while away %d, file streams after %d: not read both ways",
			fromFile, apiStreams, st.FileReads.Load()-before)
	}
	warned := 0 // the daemon may be shared: count this container's
	for _, l := range strings.Split(logOut.String(), "\n") {
		if strings.Contains(l, "its log file cannot be read") && strings.Contains(l, id[:12]) {
			warned++
		}
	}
	if warned != 1 {
		t.Fatalf("want one warning naming the container, got %d", warned)
	}
	t.Logf("%d streams from the file before, %d through the API while it was away, %d from the file after",
		fromFile, apiStreams, st.FileReads.Load()-before)
}
