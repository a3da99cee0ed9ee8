package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/docker-logs/docker_logs/tests/bench/internal/benchkit"
)

type runResult struct {
	k        int
	perShard []int         // the bench's containers per shard
	wall     time.Duration // host start to the last line seen
	st       stats
	check    checkResult
}

// runShards runs the host with k instances (shard i/k, read_from_head) until
// every line of the backlog has been handed over, stops it with SIGTERM, and
// then checks and measures from its files.
func (b *bench) runShards(ctx context.Context, k int) (runResult, error) {
	res := runResult{k: k, perShard: make([]int, k)}
	for _, id := range b.ids {
		res.perShard[shardOf(id, k)]++
	}
	out := filepath.Join(b.work, fmt.Sprintf("out-%d.jsonl", k))
	col := filepath.Join(b.work, fmt.Sprintf("collects-%d.txt", k))
	logPath := filepath.Join(b.work, fmt.Sprintf("host-%d.log", k))
	for _, p := range []string{out, col} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return res, err // --collects appends: a stale file would count twice
		}
	}
	args := []string{"--interval-ms", "1000", "--out", out, "--collects", col}
	for i := 1; i <= k; i++ {
		args = append(args, "-i", "docker_logs", "-p", "docker_host=unix://"+b.docker.Socket,
			"-p", fmt.Sprintf("shard=%d/%d", i, k), "-p", "read_from_head=true")
	}
	args = append(args, b.cfg.plugin)
	logf, err := os.Create(logPath)
	if err != nil {
		return res, err
	}
	defer logf.Close()
	cmd := exec.Command(b.cfg.host, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group: a ^C to the bench reaches the host only through
	// our SIGTERM, so the shutdown is always the clean one.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	total := len(b.ids) * b.cfg.lines
	benchkit.Progress("%d shard(s): %s %s", k, filepath.Base(b.cfg.host), strings.Join(args, " "))
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopHost := func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			return err
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			return errors.New("did not exit within 30 s of SIGTERM (killed)")
		}
	}

	mine := make(map[string]bool, len(b.ids))
	for _, id := range b.ids {
		mine[id] = true
	}
	tail := &lineCounter{path: out, mine: mine}
	defer tail.close()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	lastNote := start
	for seen := 0; seen < total; {
		select {
		case err := <-exited:
			return res, fmt.Errorf("host exited early (%v) after %d of %d lines; its log:\n%s", err, seen, total, logTail(logPath))
		case <-ctx.Done():
			stopHost()
			return res, ctx.Err()
		case now := <-tick.C:
			// Cheap on purpose: the full check would compete with the
			// plugin and dockerd for the 2 cores while they are measured.
			n, err := tail.scan()
			if err != nil {
				stopHost()
				return res, err
			}
			seen += n
			res.wall = now.Sub(start)
			if res.wall > b.cfg.timeout {
				stopHost()
				return res, fmt.Errorf("only %d of %d lines after %s; host log:\n%s", seen, total, b.cfg.timeout, logTail(logPath))
			}
			if now.Sub(lastNote) >= 10*time.Second {
				benchkit.Progress("%d shard(s): %d of %d lines", k, seen, total)
				lastNote = now
			}
		}
	}
	if err := stopHost(); err != nil {
		return res, fmt.Errorf("host: %v; its log:\n%s", err, logTail(logPath))
	}
	benchkit.Progress("%d shard(s): all %d lines in %s; checking", k, total, res.wall.Round(100*time.Millisecond))

	cs, err := readCollects(col)
	if err != nil {
		return res, err
	}
	if res.check, err = b.checkOut(out, k, cs); err != nil {
		return res, err
	}
	res.st = computeStats(cs, k)
	if !b.cfg.keep {
		os.Remove(out)
		os.Remove(col)
		os.Remove(logPath)
	}
	return res, nil
}

// lineCounter follows the growing out file and counts the records of the
// bench's containers by finding the container_id key; a quote inside a log
// line is escaped, so the first unescaped match is the key.
type lineCounter struct {
	path  string
	mine  map[string]bool
	f     *os.File
	buf   []byte
	carry []byte
}

var idKey = []byte(`"container_id":"`)

func (t *lineCounter) scan() (int, error) {
	if t.f == nil {
		f, err := os.Open(t.path)
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil // the host has not created it yet
		} else if err != nil {
			return 0, err
		}
		t.f, t.buf = f, make([]byte, 1<<20)
	}
	n := 0
	for {
		m, err := t.f.Read(t.buf)
		data := t.buf[:m]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				t.carry = append(t.carry, data...)
				break
			}
			line := data[:i]
			if len(t.carry) > 0 {
				line = append(t.carry, line...)
				t.carry = t.carry[:0]
			}
			if j := bytes.Index(line, idKey); j >= 0 && len(line) >= j+len(idKey)+64 {
				if t.mine[string(line[j+len(idKey):j+len(idKey)+64])] {
					n++
				}
			}
			data = data[i+1:]
		}
		if err == io.EOF || m == 0 {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func (t *lineCounter) close() {
	if t.f != nil {
		t.f.Close()
	}
}

func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}
