package tests

import (
	"crypto/rand"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"go.uber.org/goleak"

	fs "github.com/docker-logs/docker_logs/tests/internal/faultserver"
)

// faultLines are the lines every fault case must still deliver, once.
func faultLines(base time.Time, n int) []fs.Line {
	var out []fs.Line
	for i := 1; i <= n; i++ {
		out = append(out, fs.Line{Stream: 1 + i%2, Time: base.Add(time.Duration(i) * time.Millisecond), Text: fmt.Sprintf("line %d\n", i)})
	}
	return out
}

// For each fault a real daemon will not produce on demand, the first logs
// request of a container meets it and later ones are served normally: the
// engine logs an error, reopens, and delivers every line once; a healthy
// container beside it is captured throughout; nothing hangs or leaks.
func TestFaults(t *testing.T) {
	cases := []struct {
		name    string
		step    fs.Step
		wantLog string // in the plugin's log
	}{
		{"headers then silence", fs.Step{Fault: fs.FaultSilence}, "log stream idle"},
		{"stall mid-frame", fs.Step{Fault: fs.FaultStallMidFrame, Good: 3}, "log stream idle"},
		{"malformed header", fs.Step{Fault: fs.FaultMalformedHeader, Good: 3}, "malformed log frame header"},
		{"length beyond the cap", fs.Step{Fault: fs.FaultHugeFrame, Good: 3}, "larger than the cap"},
		{"cut frame", fs.Step{Fault: fs.FaultCutFrame, Good: 3}, "log frame cut short"},
		{"HTTP 500", fs.Step{Fault: fs.FaultHTTPStatus, Status: 500, Message: "boom"}, "boom"},
		{"daemon error frame", fs.Step{Fault: fs.FaultDaemonError, Good: 3}, "daemon error in log stream"},
		{"trickle of one byte per interval", fs.Step{Fault: fs.FaultTrickle, TrickleInterval: 100 * time.Millisecond}, "missed its heartbeat"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := goleak.IgnoreCurrent()
			srv := fs.Start(t)
			base := time.Now().Add(-time.Minute)
			lines := faultLines(base, 20)
			bad, good := strings.Repeat("b", 64), strings.Repeat("9", 64)
			srv.AddContainer(fs.Container{ID: bad, Name: "faulty", Image: "img", Running: true, Created: base})
			srv.AddContainer(fs.Container{ID: good, Name: "healthy", Image: "img", Running: true, Created: base})
			step := c.step
			step.Lines = lines
			srv.SetLogs(bad, fs.LogScript{step, {Fault: fs.FaultNone, Lines: lines}})
			srv.SetLogs(good, fs.LogScript{{Fault: fs.FaultNone, Lines: lines}})
			log := &syncBuffer{}
			r := runEngineOn(t, srv.Host(), log, "read_from_head", "true", "plugin_log_level", "debug",
				"stream_lifetime", "1s", "stream_idle_timeout", "500ms", "heartbeat_timeout", "2s")
			// The healthy container is captured while the other meets its fault.
			r.waitFor("the healthy container's lines", 10*time.Second, countOf(good, len(lines)))
			recs := r.waitFor("the faulty container's lines", 30*time.Second, countOf(bad, len(lines)))
			time.Sleep(300 * time.Millisecond)
			recs = r.records()
			for _, id := range []string{bad, good} {
				mine := ofContainer(recs, id)
				if len(mine) != len(lines) {
					t.Fatalf("%.12s: %d records, want %d", id, len(mine), len(lines))
				}
				for i, rec := range mine {
					l := lines[i]
					want := fmt.Sprintf("%d.%09d", l.Time.Unix(), l.Time.Nanosecond())
					if rec.str("log") != strings.TrimSuffix(l.Text, "\n") || rec.Time != want || rec.str("stream") != []string{"", "stdout", "stderr"}[l.Stream] {
						t.Fatalf("%.12s record %d = %v at %s, want %q at %s", id, i, rec.Record, rec.Time, l.Text, want)
					}
				}
			}
			if !strings.Contains(log.String(), c.wantLog) {
				t.Fatalf("the plugin's log lacks %q (%d bytes):\n%s", c.wantLog, len(log.String()), log.String())
			}
			if n := srv.Requests("/containers/" + bad + "/logs"); n < 2 {
				t.Fatalf("only %d logs requests: the fault was not retried", n)
			}
			r.close()
			srv.Close()
			goleak.VerifyNone(t, before)
		})
	}
}

// A log driver that cannot be read (HTTP 501) gives one warning and no
// retry loop.
func TestUnreadableLogDriver(t *testing.T) {
	srv := fs.Start(t)
	id := strings.Repeat("5", 64)
	srv.AddContainer(fs.Container{ID: id, Name: "syslogged", Image: "img", Running: true, Created: time.Now()})
	srv.SetLogs(id, fs.LogScript{{Fault: fs.FaultHTTPStatus, Status: 501, Message: "configured logging driver does not support reading"}})
	log := &syncBuffer{}
	runEngineOn(t, srv.Host(), log, "read_from_head", "true")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(log.String(), "cannot be read through the API") {
		if time.Now().After(deadline) {
			t.Fatalf("no warning:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	if n := srv.Requests("/containers/" + id + "/logs"); n != 1 {
		t.Fatalf("%d logs requests for an unreadable container, want 1", n)
	}
	if n := strings.Count(log.String(), "cannot be read through the API"); n != 1 {
		t.Fatalf("%d warnings, want 1", n)
	}
}

// A daemon address that answers garbage: random bytes, or an HTML page
// with status 200 (a web server where dockerd was). For 30 s the plugin
// retries, says so in at most two warnings, none quoting more than a few
// escaped bytes of the garbage, and never crashes.
func TestGarbageDaemonWarnsRarely(t *testing.T) {
	answers := map[string]func(net.Conn){
		"random bytes": func(c net.Conn) {
			b := make([]byte, 512)
			rand.Read(b)
			c.Write(b)
		},
		"an HTML page": func(c net.Conn) {
			page := "<!DOCTYPE html><html><body><h1>It works</h1></body></html>"
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(page), page)
		},
	}
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sock := filepath.Join(t.TempDir(), "garbage.sock")
			l, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			var served sync.WaitGroup
			t.Cleanup(func() { l.Close(); served.Wait() })
			served.Add(1)
			go func() {
				defer served.Done()
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					c.SetReadDeadline(time.Now().Add(time.Second))
					c.Read(make([]byte, 4096)) // the request
					answer(c)
					c.Close()
				}
			}()
			log := &syncBuffer{}
			r := runEngineOn(t, "unix://"+sock, log)
			time.Sleep(30 * time.Second)
			r.close()
			var warnings []string
			for _, line := range strings.Split(log.String(), "\n") {
				if strings.Contains(line, "[ warn]") || strings.Contains(line, "[error]") {
					warnings = append(warnings, line)
				}
			}
			t.Logf("%d warnings in 30 s:\n%s", len(warnings), strings.Join(warnings, "\n"))
			if len(warnings) == 0 || len(warnings) > 2 {
				t.Errorf("%d warnings in 30 s, want 1 or 2", len(warnings))
			}
			for _, w := range warnings {
				if !utf8.ValidString(w) || strings.ContainsFunc(w, func(r rune) bool { return !unicode.IsPrint(r) }) || len(w) > 400 {
					t.Errorf("a warning quoting the garbage raw or at length: %q", w)
				}
			}
		})
	}
}
