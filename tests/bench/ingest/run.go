package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docker-logs/docker_logs/tests/bench/internal/benchkit"
)

func (b *bench) round(ctx context.Context, k int) (round, error) {
	var r round
	var err error
	step := func(name string, f func(context.Context) (reading, error)) (reading, error) {
		rctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
		defer cancel()
		x, err := f(rctx)
		if err != nil {
			return x, fmt.Errorf("%s: %w", name, err)
		}
		cpu := "-"
		if x.cpu > 0 {
			cpu = fmt.Sprintf("%.2f CPU s per M lines", x.cpuPerM(b.cfg.lines))
		}
		benchkit.Progress("round %d %s: %.0f lines/s, %s", k, name, x.rate, cpu)
		return x, nil
	}
	if r.raw, err = step("raw API", b.readRaw); err != nil {
		return r, err
	}
	if r.cli, err = step("docker logs -f -t", b.readCLI); err != nil {
		return r, err
	}
	if r.host, err = step("plugin in flbhost", func(ctx context.Context) (reading, error) {
		return b.readHost(ctx, k, b.cfg.intervalMS, b.cfg.sizeKeys())
	}); err != nil {
		return r, err
	}
	if r.reader, err = step("plugin in flbhost, reader alone", func(ctx context.Context) (reading, error) { return b.readHost(ctx, k, readerAloneMS, readerAlone) }); err != nil {
		return r, err
	}
	if b.cfg.fluentBit != "" {
		t, err := step("fluent-bit tail", func(ctx context.Context) (reading, error) { return b.readFluentBit(ctx, k, true) })
		if err != nil {
			return r, err
		}
		f, err := step("fluent-bit + plugin", func(ctx context.Context) (reading, error) { return b.readFluentBit(ctx, k, false) })
		if err != nil {
			return r, err
		}
		r.tail, r.fb = &t, &f
	}
	return r, nil
}

// readRaw reads the whole backlog as curl would (follow=1, timestamps=1),
// frames skipped without copying, and stops at the last line.
func (b *bench) readRaw(ctx context.Context) (reading, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := url.Values{"stdout": {"1"}, "stderr": {"1"}, "timestamps": {"1"}, "follow": {"1"}}
	t0 := time.Now()
	body, err := b.api.Logs(ctx, b.id, q)
	if err != nil {
		return reading{}, err
	}
	defer body.Close()
	fr := benchkit.NewFrameReader(body, 64<<10)
	var first time.Time
	for i := 0; i < b.cfg.lines; i++ {
		if err := fr.Skip(); err != nil {
			return reading{}, fmt.Errorf("after %d of %d frames: %w", i, b.cfg.lines, err)
		}
		if i == 0 {
			first = time.Now()
		}
	}
	last := time.Now()
	return reading{rate: float64(b.cfg.lines-1) / last.Sub(first).Seconds(), wall: last.Sub(t0)}, nil
}

// readCLI runs docker logs -f -t and drains its output, counting lines
// (newlines) until the last one; the CLI is then killed.
func (b *bench) readCLI(ctx context.Context) (reading, error) {
	cmd := exec.CommandContext(ctx, b.cfg.docker, "-H", b.docker.Host(), "logs", "-f", "-t", b.id)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return reading{}, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return reading{}, err
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	buf := make([]byte, 256<<10)
	var first time.Time
	seen := 0
	for seen < b.cfg.lines {
		n, err := out.Read(buf)
		if n > 0 {
			if seen == 0 {
				first = time.Now()
			}
			seen += bytes.Count(buf[:n], []byte{'\n'})
		}
		if err != nil {
			return reading{}, fmt.Errorf("after %d of %d lines: %v: %s", seen, b.cfg.lines, err, strings.TrimSpace(stderr.String()))
		}
	}
	last := time.Now()
	cpu, err := benchkit.CPUTime(cmd.Process.Pid)
	if err != nil {
		return reading{}, err
	}
	return reading{rate: float64(b.cfg.lines-1) / last.Sub(first).Seconds(), cpu: cpu, wall: last.Sub(t0)}, nil
}

// readerAlone (keys) and readerAloneMS (the test host's collect interval)
// take the per-instance bound out of the way: collects ten times a second
// of up to 64M, so the rate is the reader's alone.
var (
	readerAlone   = []string{"-p", "chunk_max_size=64M", "-p", "buffer_max_size=128M"}
	readerAloneMS = 100
)

// readHost runs the plugin in the test host with read_from_head on the
// bench's container only, collecting every intervalMS with keys added,
// until its collects have handed over every line.
func (b *bench) readHost(ctx context.Context, k, intervalMS int, keys []string) (reading, error) {
	col := filepath.Join(b.work, "collects.txt")
	os.Remove(col)
	args := []string{"--count-only", "--collects", col, "--interval-ms", strconv.Itoa(intervalMS),
		"-i", "docker_logs", "-p", "docker_host=unix://" + b.docker.Socket, "-p", "read_from_head=true",
		"-p", "include_labels=" + benchkit.Label + "=" + b.label}
	args = append(args, keys...)
	profiled := make(chan error, 1)
	if b.cfg.pprofDir != "" {
		port, err := benchkit.FreePort()
		if err != nil {
			return reading{}, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		args = append(args, "-p", "status_listen="+addr, "-p", "status_pprof=on")
		go func() {
			time.Sleep(500 * time.Millisecond) // reading by then
			profiled <- fetchProfile(addr, b.cfg.pprofSecs, filepath.Join(b.cfg.pprofDir, fmt.Sprintf("plugin-cpu-round%d.pprof", k)))
		}()
	} else {
		profiled <- nil
	}
	args = append(args, b.cfg.plugin)
	h, err := benchkit.StartHost(b.cfg.host, args, nil, filepath.Join(b.work, "flbhost.log"), nil)
	if err != nil {
		return reading{}, err
	}
	defer h.Stop(30 * time.Second)
	var (
		cols = benchkit.Collects{Path: col}
		cpu  time.Duration
		tick = time.NewTicker(20 * time.Millisecond)
		t0   = time.Now()
	)
	defer tick.Stop()
	for cols.Records < b.cfg.lines {
		select {
		case <-ctx.Done():
			return reading{}, fmt.Errorf("%d of %d lines: %w", cols.Records, b.cfg.lines, ctx.Err())
		case <-h.Exited():
			return reading{}, fmt.Errorf("host exited (%v) after %d of %d lines; see %s", h.Err(), cols.Records, b.cfg.lines, h.LogPath)
		case <-tick.C:
		}
		if err := cols.Poll(); err != nil {
			return reading{}, err
		}
		if cols.Records >= b.cfg.lines {
			// The host is idle from here on: its CPU is the run's.
			if cpu, err = benchkit.CPUTime(h.PID()); err != nil {
				return reading{}, err
			}
		}
	}
	if err := <-profiled; err != nil {
		return reading{}, fmt.Errorf("profile: %w", err)
	}
	if cols.Records != b.cfg.lines {
		return reading{}, fmt.Errorf("plugin handed over %d lines, the container wrote %d", cols.Records, b.cfg.lines)
	}
	if err := h.Stop(30 * time.Second); err != nil {
		return reading{}, fmt.Errorf("host: %v; see %s", err, h.LogPath)
	}
	return reading{rate: cols.Rate(), cpu: cpu, wall: time.Since(t0)}, nil
}

// fetchProfile saves a CPU profile of secs seconds from the plugin's
// status endpoint (status_pprof) to path.
func fetchProfile(addr string, secs int, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	c := http.Client{Timeout: time.Duration(secs+10) * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	benchkit.Progress("CPU profile of the plugin saved: %s", path)
	return f.Close()
}

// readFluentBit runs real Fluent Bit, either tail + parser docker on the
// container's json-file or the plugin (-e), both to -o null, until its
// HTTP server's metrics count every line as input records.
func (b *bench) readFluentBit(ctx context.Context, k int, tail bool) (reading, error) {
	port, err := benchkit.FreePort()
	if err != nil {
		return reading{}, err
	}
	parsers := filepath.Join(b.work, "parsers.conf")
	if err := os.WriteFile(parsers, []byte(benchkit.DockerParsersConf), 0o644); err != nil {
		return reading{}, err
	}
	args := []string{"-H", "-P", strconv.Itoa(port), "-f", "1"}
	input := "docker_logs.0"
	if tail {
		input = "tail.0"
		args = append(args, "-R", parsers, "-i", "tail", "-p", "path="+b.logPath, "-p", "parser=docker",
			"-p", "read_from_head=true", "-p", "refresh_interval=1")
	} else {
		args = append(args, "-e", b.cfg.plugin, "-i", "docker_logs", "-p", "docker_host=unix://"+b.docker.Socket,
			"-p", "read_from_head=true", "-p", "include_labels="+benchkit.Label+"="+b.label)
		args = append(args, b.cfg.sizeKeys()...)
	}
	args = append(args, b.fbOutput...)
	name := "fb-plugin"
	if tail {
		name = "fb-tail"
	}
	h, err := benchkit.StartHost(b.cfg.fluentBit, args, nil, filepath.Join(b.work, fmt.Sprintf("%s-%d.log", name, k)), nil)
	if err != nil {
		return reading{}, err
	}
	defer h.Stop(30 * time.Second)
	t0 := time.Now()
	url := fmt.Sprintf("http://127.0.0.1:%d/api/v1/metrics", port)
	var first time.Time
	var nFirst int
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return reading{}, ctx.Err()
		case <-h.Exited():
			return reading{}, fmt.Errorf("fluent-bit exited (%v); see %s", h.Err(), h.LogPath)
		case <-tick.C:
		}
		n, err := benchkit.InputRecords(url, input)
		if err != nil {
			continue // not listening yet
		}
		if n > 0 && first.IsZero() {
			first, nFirst = time.Now(), n
		}
		if n >= b.cfg.lines {
			cpu, err := benchkit.CPUTime(h.PID())
			if err != nil {
				return reading{}, err
			}
			last := time.Now()
			note := ""
			if n > b.cfg.lines {
				note = fmt.Sprintf("%s: %d records for %d lines", name, n, b.cfg.lines)
			}
			if err := h.Stop(30 * time.Second); err != nil {
				return reading{}, fmt.Errorf("fluent-bit: %v; see %s", err, h.LogPath)
			}
			// Metrics refresh once a second (-f 1): the rate, from the
			// first count seen to the last, is coarse; the CPU is not
			// (the process idles once it is done).
			rate := float64(n) / last.Sub(t0).Seconds()
			if d := last.Sub(first).Seconds(); d >= 2 {
				rate = float64(n-nFirst) / d
			}
			return reading{rate: rate, cpu: cpu, wall: last.Sub(t0), note: note}, nil
		}
	}
}
