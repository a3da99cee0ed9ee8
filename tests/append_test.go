package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker-logs/docker_logs/tests/internal/dockertest"
)

// seqScan reads the host's records file as it grows, checking that one
// container's loggen lines ("stdout - 00000001", ...) arrive once and in
// order, without keeping them: a long load stays cheap to check.
type seqScan struct {
	t    *testing.T
	path string
	id   string
	off  int64 // bytes of the file read so far
	next int   // the next line number due
	last string
}

func (s *seqScan) scan() {
	s.t.Helper()
	f, err := os.Open(s.path)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(s.off, 0); err != nil {
		s.t.Fatal(err)
	}
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil { // a partial last line is read again next time
			return
		}
		s.off += int64(len(line))
		var rec struct {
			Time   string `json:"time"`
			Record struct {
				Log string `json:"log"`
				ID  string `json:"container_id"`
			} `json:"record"`
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			s.t.Fatalf("host wrote a bad line: %v: %.200s", err, line)
		}
		if rec.Record.ID != s.id {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(rec.Record.Log, "stdout - "))
		if err != nil || n != s.next {
			s.t.Fatalf("line %q where line %d was due (lost or repeated)", rec.Record.Log, s.next)
		}
		s.next++
		s.last = rec.Time
	}
}

// waitAll scans every poll until the first n lines arrived, failing after
// timeout.
func (s *seqScan) waitAll(n int, timeout, poll time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for s.next <= n {
		if time.Now().After(deadline) {
			s.t.Fatalf("only %d of %d lines arrived", s.next-1, n)
		}
		time.Sleep(poll)
		s.scan()
	}
}

// One container writing 21,000 lines/s for 20 s, default keys, Fluent Bit
// with its symbols exported: every line arrives once, in order, appended
// straight into Fluent Bit in pieces no larger than chunk_max_size (the
// host fails a larger one), and nothing says the collect bound held it back.
func TestAppendCarriesAFastContainer(t *testing.T) {
	d := needDocker(t)
	const rate, secs = 21000, 20
	h := startHost(t, append([]string{"--max-chunk", "2000000"}, instanceArgs(d.Host())...)...)
	h.waitLog("records go straight into Fluent Bit", 30*time.Second)
	h.waitLog("connected to docker", 30*time.Second)
	id, err := d.Run(dockertest.Run{Name: "fast-append" + suffix(), Args: []string{"-n", fmt.Sprint(rate * secs), "-rate", fmt.Sprint(rate)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Remove(id) })
	s := &seqScan{t: t, path: h.out, id: id, next: 1}
	s.waitAll(rate*secs, secs*time.Second+90*time.Second, time.Second)
	time.Sleep(2 * time.Second) // room for a late duplicate to show
	s.scan()
	// The daemon is shared: other tests' containers may be warned about.
	for _, line := range strings.Split(h.output.String(), "\n") {
		if strings.Contains(line, "Raise chunk_max_size") || strings.Contains(line, "[ warn]") && strings.Contains(line, id[:12]) {
			t.Fatalf("a warning while carrying the load: %s", line)
		}
	}
}

// Fluent Bit refuses appends (its ring buffer full) for 5 s under load:
// nothing is lost or repeated, the positions in db never pass the last
// record Fluent Bit took, and one warning names the cause.
func TestAppendRefusedKeepsEverything(t *testing.T) {
	d := needDocker(t)
	dir := t.TempDir()
	refuse, db := filepath.Join(dir, "refuse"), filepath.Join(dir, "positions.db")
	h := startHost(t, append([]string{"--refuse-appends", refuse},
		instanceArgs(d.Host(), "db="+db, "db.commit_delay=0s", "db.sync_interval=100ms")...)...)
	h.waitLog("connected to docker", 30*time.Second)
	const n = 24000
	id, err := d.Run(dockertest.Run{Name: "refused" + suffix(), Args: []string{"-n", fmt.Sprint(n), "-rate", "2000"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Remove(id) })
	s := &seqScan{t: t, path: h.out, id: id, next: 1}
	time.Sleep(3 * time.Second)
	if err := os.WriteFile(refuse, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
		s.scan()
		if pos := dbTime(t, db, id); s.last != "" && pos > stampNanos(t, s.last) {
			t.Fatalf("db says %d, past the last record Fluent Bit took (%s)", pos, s.last)
		}
	}
	os.Remove(refuse)
	s.waitAll(n, 2*time.Minute, 500*time.Millisecond)
	time.Sleep(time.Second)
	s.scan()
	log := h.output.String()
	if c := strings.Count(log, "Fluent Bit refused"); c != 1 {
		t.Fatalf("%d warnings about refused appends, want 1:\n%s", c, tail(log, 30))
	}
	if !strings.Contains(log, "Fluent Bit takes records again") {
		t.Fatalf("the end of the refusals is not said:\n%s", tail(log, 30))
	}
}

// dbTime is the stdout cursor of container id in the db file (0 if none).
func dbTime(t *testing.T, path, id string) int64 {
	t.Helper()
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Containers map[string]struct {
			Stdout struct {
				Time int64 `json:"time"`
			} `json:"stdout"`
		} `json:"containers"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("db: %v", err)
	}
	return f.Containers[id].Stdout.Time
}

// stampNanos reads a record's "sec.nsec" time.
func stampNanos(t *testing.T, s string) int64 {
	sec, nsec, ok := strings.Cut(s, ".")
	a, err1 := strconv.ParseInt(sec, 10, 64)
	b, err2 := strconv.ParseInt(nsec, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("bad record time %q", s)
	}
	return a*1e9 + b
}

// On a Fluent Bit without the exported append, records go through the
// collect buffer under the input's tag: a tag_template cannot be honoured,
// so init fails and says why, rather than routing every record elsewhere.
func TestTagTemplateNeedsAppend(t *testing.T) {
	sock := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	h := startHostBin(t, hostNoAppend, instanceArgs(sock, "tag_template=docker.{container_name}")...)
	if code := h.exitCode(30 * time.Second); code != 255 {
		t.Fatalf("host exited %d, want 255 (init failure)", code)
	}
	if msg := h.output.String(); !strings.Contains(msg, "[input:docker_logs:docker_logs.0] invalid tag_template: this Fluent Bit does not export flb_input_log_append") {
		t.Fatalf("the message does not name tag_template and the reason:\n%s", msg)
	}
}
