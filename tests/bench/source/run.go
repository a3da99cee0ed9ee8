package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docker-logs/docker_logs/tests/bench/internal/benchkit"
)

type readerKind int

const (
	kindHost       readerKind = iota // the plugin in the test host
	kindTail                         // fluent-bit -i tail
	kindFluentBitP                   // the plugin in fluent-bit (-e)
)

// reader is one way of reading a container's lines.
type reader struct {
	name   string
	kind   readerKind
	source string   // the plugin's source key
	keys   []string // more -p key=value for the instance
}

var (
	readAPI    = reader{name: "source api", kind: kindHost, source: "api"}
	readFile   = reader{name: "source file", kind: kindHost, source: "file"}
	readTail   = reader{name: "fluent-bit tail", kind: kindTail}
	readFBFile = reader{name: "fluent-bit + source file", kind: kindFluentBitP, source: "file"}
	// Fluent Bit runs a Go input in a thread of its own, whose appends
	// its main thread copies again into chunks; threaded false appends
	// into them at once, as tail does.
	readFBFileUnthreaded = reader{name: "fluent-bit + source file, threaded false", kind: kindFluentBitP, source: "file",
		keys: []string{"threaded=false"}}
)

// tag is the reader's name as it may stand in a file or container name.
func (rd reader) tag() string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, strings.ReplaceAll(rd.name, "+", "plus"))
}

// running is a started reader.
type running struct {
	h     *benchkit.Host
	count func() (int, error) // lines handed over so far
	ready func() bool         // it can see a new container now
	poll  time.Duration       // how often count is worth asking
}

// connected: the plugin's log says it listed the containers (it subscribed
// to the events before: a container started from now on is seen).
func connected(h *benchkit.Host) bool {
	b, err := os.ReadFile(h.LogPath)
	return err == nil && bytes.Contains(b, []byte("connected to docker"))
}

// start starts rd on the run's containers; path is the json-file that tail
// reads, fromHead sets read_from_head.
func (b *bench) start(rd reader, tag, path string, fromHead bool) (*running, error) {
	logPath := filepath.Join(b.work, tag+".log")
	pluginKeys := []string{"-i", "docker_logs", "-p", "docker_host=unix://" + b.docker.Socket, "-p", "source=" + rd.source,
		"-p", "include_labels=" + benchkit.Label + "=" + b.label}
	if fromHead {
		pluginKeys = append(pluginKeys, "-p", "read_from_head=true")
	}
	for _, kv := range rd.keys {
		pluginKeys = append(pluginKeys, "-p", kv)
	}
	switch rd.kind {
	case kindHost:
		col := filepath.Join(b.work, tag+".collects")
		os.Remove(col)
		args := append([]string{"--count-only", "--collects", col}, pluginKeys...)
		h, err := benchkit.StartHost(b.cfg.host, append(args, b.cfg.plugin), nil, logPath, nil)
		if err != nil {
			return nil, err
		}
		cols := &benchkit.Collects{Path: col}
		return &running{h: h, poll: 20 * time.Millisecond,
			count: func() (int, error) { err := cols.Poll(); return cols.Records, err },
			ready: func() bool { return connected(h) }}, nil
	default:
		port, err := benchkit.FreePort()
		if err != nil {
			return nil, err
		}
		args := []string{"-H", "-P", strconv.Itoa(port), "-f", "1"}
		input := "docker_logs.0"
		if rd.kind == kindTail {
			parsers := filepath.Join(b.work, "parsers.conf")
			if err := os.WriteFile(parsers, []byte(benchkit.DockerParsersConf), 0o644); err != nil {
				return nil, err
			}
			input = "tail.0"
			args = append(args, "-R", parsers, "-i", "tail", "-p", "path="+path, "-p", "parser=docker",
				"-p", "read_from_head=true", "-p", "refresh_interval=1")
		} else {
			args = append(append(args, "-e", b.cfg.plugin), pluginKeys...)
		}
		args = append(args, b.fbOutput...)
		h, err := benchkit.StartHost(b.cfg.fluentBit, args, nil, logPath, nil)
		if err != nil {
			return nil, err
		}
		url := fmt.Sprintf("http://127.0.0.1:%d/api/v1/metrics", port)
		count := func() (int, error) { return benchkit.InputRecords(url, input) }
		return &running{h: h, poll: 100 * time.Millisecond, count: count,
			ready: func() bool {
				if _, err := count(); err != nil {
					return false
				}
				return rd.kind == kindTail || connected(h)
			}}, nil
	}
}

// waitReady waits until r can see a new container.
func (r *running) waitReady(ctx context.Context) error {
	for !r.ready() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w; see %s", ctx.Err(), r.h.LogPath)
		case <-r.h.Exited():
			return fmt.Errorf("exited (%v) before it was ready; see %s", r.h.Err(), r.h.LogPath)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

func (b *bench) dockerdCPU() (time.Duration, error) {
	d, err := benchkit.CPUTime(b.dockerd)
	if err != nil {
		return 0, fmt.Errorf("dockerd (pid %d): %w", b.dockerd, err)
	}
	return d, nil
}

// mark is the start of a window: when, dockerd's CPU and the reader's.
type mark struct {
	at           time.Time
	dockerd, cpu time.Duration
}

func (b *bench) mark(pid int) (mark, error) {
	m := mark{at: time.Now()}
	var err error
	if pid > 0 {
		if m.cpu, err = benchkit.CPUTime(pid); err != nil {
			return m, err
		}
	}
	m.dockerd, err = b.dockerdCPU()
	return m, err
}

// await waits until r has handed over n lines and returns the reading of
// the window from m: the reader is idle from then on, dockerd too (as far
// as the reader is concerned).
func (b *bench) await(ctx context.Context, r *running, n int, m mark) (reading, error) {
	var (
		seen    int
		firstAt time.Time
		firstN  int
		note    string
	)
	tick := time.NewTicker(r.poll)
	defer tick.Stop()
	for seen < n {
		select {
		case <-ctx.Done():
			return reading{}, fmt.Errorf("%d of %d lines: %w; see %s", seen, n, ctx.Err(), r.h.LogPath)
		case <-r.h.Exited():
			return reading{}, fmt.Errorf("exited (%v) after %d of %d lines; see %s", r.h.Err(), seen, n, r.h.LogPath)
		case <-tick.C:
		}
		k, err := r.count()
		if err != nil {
			continue // Fluent Bit not listening yet
		}
		if k > 0 && firstAt.IsZero() {
			firstAt, firstN = time.Now(), k
		}
		seen = k
	}
	cpu, err := benchkit.CPUTime(r.h.PID())
	if err != nil {
		return reading{}, err
	}
	d, err := b.dockerdCPU()
	if err != nil {
		return reading{}, err
	}
	last := time.Now()
	if seen > n {
		note = fmt.Sprintf("%d lines for %d written", seen, n)
	}
	x := reading{lines: n, window: last.Sub(m.at), cpu: cpu - m.cpu, dockerd: d - m.dockerd, note: note}
	// First to last line seen, the first observation's lines excluded;
	// when everything came at once, over the whole window.
	if last.Sub(firstAt) > 0 && seen > firstN {
		x.rate = float64(seen-firstN) / last.Sub(firstAt).Seconds()
	} else {
		x.rate = float64(n) / x.window.Seconds()
	}
	return x, nil
}

// idle measures dockerd's CPU/s over the -idle period with no reader.
func (b *bench) idle(ctx context.Context) (float64, error) {
	m, err := b.mark(0)
	if err != nil {
		return 0, err
	}
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(b.cfg.idle):
	}
	d, err := b.dockerdCPU()
	if err != nil {
		return 0, err
	}
	return (d - m.dockerd).Seconds() / time.Since(m.at).Seconds(), nil
}

func (b *bench) progress(sc string, k int, name string, x reading, base float64) {
	f := x.figures(base)
	benchkit.Progress("%s round %d, %s: %.0f lines/s, reader %.2f + dockerd %.2f = %.2f CPU s per M lines, dockerd %.3f CPU/s over %.1f s",
		sc, k, name, f.rate, f.readerM, f.dockerdM, f.wholeM, f.dockerdS, x.window.Seconds())
}

// backlog runs the backlog scenario: one pre-written container, each
// reader from the head in turn.
func (b *bench) backlog(ctx context.Context) (*scenario, error) {
	bl, err := b.docker.CreateBacklog(ctx, b.api, "docker_logs-bench-"+b.label, b.label, b.cfg.lines, b.cfg.size)
	if err != nil {
		return nil, err
	}
	sc := &scenario{name: "backlog"}
	for k := 1; k <= b.cfg.rounds; k++ {
		r := &round{readings: map[string]*reading{}}
		if r.idle, err = b.idle(ctx); err != nil {
			return nil, err
		}
		benchkit.Progress("backlog round %d: dockerd idle %.3f CPU/s", k, r.idle)
		for _, rd := range b.readers {
			x, err := b.readBacklog(ctx, rd, k, bl.LogPath)
			if err != nil {
				return nil, fmt.Errorf("round %d, %s: %w", k, rd.name, err)
			}
			b.progress("backlog", k, rd.name, x, r.idle)
			r.readings[rd.name] = &x
		}
		sc.rounds = append(sc.rounds, r)
	}
	// Out of the live scenario's way: the plugin there selects the run's
	// containers by the same label.
	if err := b.docker.Remove([]string{bl.ID}); err != nil {
		return nil, err
	}
	return sc, nil
}

func (b *bench) readBacklog(ctx context.Context, rd reader, k int, path string) (reading, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
	defer cancel()
	// The window opens before the reader starts: its start-up (and what
	// it asks dockerd then) is part of the reading.
	m, err := b.mark(0)
	if err != nil {
		return reading{}, err
	}
	r, err := b.start(rd, fmt.Sprintf("backlog-%d-%s", k, rd.tag()), path, true)
	if err != nil {
		return reading{}, err
	}
	defer r.h.Stop(30 * time.Second)
	x, err := b.await(ctx, r, b.cfg.lines, m)
	if err != nil {
		return x, err
	}
	if err := r.h.Stop(30 * time.Second); err != nil {
		return x, fmt.Errorf("stopping: %v; see %s", err, r.h.LogPath)
	}
	return x, nil
}

// live runs the live scenario: per round the idle baseline, the writer
// alone, then each reader with a fresh writer.
func (b *bench) live(ctx context.Context) (*scenario, error) {
	n := b.cfg.liveLines()
	sc := &scenario{name: "live"}
	for k := 1; k <= b.cfg.rounds; k++ {
		r := &round{readings: map[string]*reading{}}
		var err error
		if r.idle, err = b.idle(ctx); err != nil {
			return nil, err
		}
		benchkit.Progress("live round %d: dockerd idle %.3f CPU/s", k, r.idle)
		writer := func(when string) error {
			w, err := b.readLive(ctx, nil, k, when)
			if err != nil {
				return fmt.Errorf("round %d, writer alone %s: %w", k, when, err)
			}
			r.writers = append(r.writers, w)
			benchkit.Progress("live round %d, writer alone %s: %.0f lines/s, dockerd %.2f CPU s per M lines, %.3f CPU/s over %.1f s",
				k, when, w.rate, w.dockerd.Seconds()/float64(n)*1e6, w.dockerdPerSec(), w.window.Seconds())
			return nil
		}
		if err := writer("before"); err != nil {
			return nil, err
		}
		for _, rd := range b.readers {
			x, err := b.readLive(ctx, &rd, k, "")
			if err != nil {
				return nil, fmt.Errorf("round %d, %s: %w", k, rd.name, err)
			}
			// Here against the writer before; the table's figures are
			// against the mean of before and after.
			b.progress("live", k, rd.name, x, r.base())
			r.readings[rd.name] = &x
		}
		if err := writer("after"); err != nil {
			return nil, err
		}
		sc.rounds = append(sc.rounds, r)
	}
	return sc, nil
}

// readLive creates a writer, starts rd (nil: no reader; when then names
// the run) and once it is ready starts the writer; the window runs from
// there to the last line read (with no reader: to the last line in the
// json-file).
func (b *bench) readLive(ctx context.Context, rd *reader, k int, when string) (reading, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.timeout+time.Duration(b.cfg.seconds)*time.Second)
	defer cancel()
	n := b.cfg.liveLines()
	tag := "writer_only_" + when
	if rd != nil {
		tag = rd.tag()
	}
	tag = fmt.Sprintf("live-%d-%s", k, tag)
	// A plugin reader is started and ready before the container is even
	// created: it sees it through its events, as a container that starts
	// after Fluent Bit. tail needs the container's ID for its path, so
	// there the container is created first (not started).
	var (
		r    *running
		id   string
		path string
		err  error
	)
	create := func() error {
		id, err = b.docker.Run(ctx, "create", "--name", "docker_logs-bench-"+b.label+"-"+tag, "--network", "none",
			"--log-driver", "json-file", "--label", benchkit.Label+"="+b.label, benchkit.LoggenImage,
			"-n", strconv.Itoa(n), "-size", strconv.Itoa(b.cfg.size), "-rate", strconv.Itoa(b.cfg.rate),
			"-stream", "stdout", "-then", "sleep")
		if err != nil {
			return fmt.Errorf("%v (%s)", err, benchkit.StartHint)
		}
		// LogPath is set only at the start; json-file puts it here.
		path = filepath.Join(b.root, "containers", id, id+"-json.log")
		return nil
	}
	defer func() {
		if id == "" {
			return
		}
		if err := b.docker.Remove([]string{id}); err != nil {
			prog.Warnf("%v", err)
		}
	}()
	if rd == nil || rd.kind == kindTail {
		if err := create(); err != nil {
			return reading{}, err
		}
	}
	pid := 0
	if rd != nil {
		if r, err = b.start(*rd, tag, path, false); err != nil {
			return reading{}, err
		}
		defer r.h.Stop(30 * time.Second)
		if err := r.waitReady(ctx); err != nil {
			return reading{}, err
		}
		if id == "" {
			if err := create(); err != nil {
				return reading{}, err
			}
		}
		// Let its start-up settle (Fluent Bit's first scan; the plugin's
		// first collects, and its look at the created container): the
		// window is the container's alone.
		select {
		case <-ctx.Done():
			return reading{}, ctx.Err()
		case <-time.After(time.Second):
		}
		pid = r.h.PID()
	}
	m, err := b.mark(pid)
	if err != nil {
		return reading{}, err
	}
	if _, err := b.docker.Run(ctx, "start", id); err != nil {
		return reading{}, err
	}
	var x reading
	if r != nil {
		x, err = b.await(ctx, r, n, m)
	} else {
		x, err = b.awaitFile(ctx, path, n, m)
	}
	if err != nil {
		return x, err
	}
	x.rate = float64(n) / x.window.Seconds()
	if r != nil {
		if err := r.h.Stop(30 * time.Second); err != nil {
			return x, fmt.Errorf("stopping: %v; see %s", err, r.h.LogPath)
		}
	}
	if lp, err := b.docker.Run(ctx, "inspect", "-f", "{{.LogPath}}", id); err != nil {
		return x, err
	} else if lp != path {
		return x, fmt.Errorf("json-file of %s is %s, not %s as assumed", id[:12], lp, path)
	}
	return x, nil
}

// awaitFile waits until the json-file at path holds n lines (counted by
// reading it here: nothing is asked of dockerd).
func (b *bench) awaitFile(ctx context.Context, path string, n int, m mark) (reading, error) {
	var (
		f    *os.File
		seen int
		buf  = make([]byte, 1<<20)
	)
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for seen < n {
		if f == nil {
			var err error
			if f, err = os.Open(path); errors.Is(err, os.ErrNotExist) {
				f = nil
			} else if err != nil {
				return reading{}, err
			}
		}
		for f != nil {
			k, err := f.Read(buf)
			seen += bytes.Count(buf[:k], []byte{'\n'})
			if err == io.EOF || k == 0 {
				break
			} else if err != nil {
				return reading{}, err
			}
		}
		if seen >= n {
			break
		}
		select {
		case <-ctx.Done():
			return reading{}, fmt.Errorf("%d of %d lines in %s: %w", seen, n, path, ctx.Err())
		case <-tick.C:
		}
	}
	d, err := b.dockerdCPU()
	if err != nil {
		return reading{}, err
	}
	x := reading{lines: n, window: time.Since(m.at), dockerd: d - m.dockerd}
	if seen > n {
		x.note = fmt.Sprintf("%d lines in the json-file for %d written", seen, n)
	}
	return x, nil
}
