package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker-logs/docker_logs/engine"
	"github.com/docker-logs/docker_logs/tests/bench/internal/benchkit"
)

// probe checks the daemon and the image and collects what the report's
// header says about the machine.
func (b *bench) probe(ctx context.Context) (machine, error) {
	m := machine{Machine: benchkit.DescribeMachine()}
	v, err := b.docker.Run(ctx, "version", "--format", "{{.Server.Version}}")
	if err != nil {
		return m, fmt.Errorf("%v (%s)", err, benchkit.StartHint)
	}
	m.dockerd = v
	if _, err := b.docker.Run(ctx, "image", "inspect", "--format", "{{.Id}}", benchkit.LoggenImage); err != nil {
		return m, fmt.Errorf("%v (build it: bash tests/docker/dockerd.sh image)", err)
	}
	if out, err := b.docker.Run(ctx, "ps", "-aq"); err == nil && out != "" {
		m.otherContainer = len(strings.Fields(out))
	}
	return m, nil
}

// takeLease follows tests/internal/dockertest's protocol (a file named after
// our pid in dockertest.leases, written under dockertest.lock): a test
// process that started the daemon stops it at its Teardown only when no
// live lease is left.
func takeLease(dir string) (func(), error) {
	lf, err := os.OpenFile(filepath.Join(dir, "dockertest.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return nil, err
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	ld := filepath.Join(dir, "dockertest.leases")
	if err := os.MkdirAll(ld, 0o755); err != nil {
		return nil, err
	}
	p := filepath.Join(ld, strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		return nil, err
	}
	return func() { os.Remove(p) }, nil
}

// shardOf is the 0-based index, among n, of the instance that owns a
// container: the one with shard=i/n where engine.InShard holds, i.e. i-1
// (the host names the instances docker_logs.0, ... in -i order). Asking the
// plugin's own function keeps the check and the balancing in step with it.
func shardOf(id string, n int) int {
	for i := 1; i <= n; i++ {
		if engine.InShard(id, i, n) {
			return i - 1
		}
	}
	panic(fmt.Sprintf("engine.InShard: %s is in none of %d shards", id, n))
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// createBacklog creates the containers (balanced over the shards when asked),
// starts them all, and waits until each has exited: the whole backlog is in
// the json-file logs before any host starts, so every run reads the same.
func (b *bench) createBacklog(ctx context.Context) error {
	c := b.cfg
	// Balanced for the lcm of the counts is balanced for each count.
	l := 1
	for _, k := range c.shards {
		l = l / gcd(l, k) * k
	}
	if !c.balance || l > 1024 {
		l = 1
	}
	capPer := (c.containers + l - 1) / l
	per := make([]int, l)
	args := []string{"-n", strconv.Itoa(c.lines), "-size", strconv.Itoa(c.size), "-stream", "stdout", "-then", "exit"}
	for attempt := 0; len(b.ids) < c.containers; attempt++ {
		if attempt > 50*c.containers+100 {
			return fmt.Errorf("could not balance %d containers over %d shards", c.containers, l)
		}
		name := fmt.Sprintf("docker_logs-bench-shards-%d-%d", os.Getpid(), attempt)
		id, err := b.docker.Run(ctx, append([]string{"create", "--name", name, "--network", "none",
			"--log-driver", "json-file", "--label", "docker_logs.bench=shards", benchkit.LoggenImage}, args...)...)
		if err != nil {
			return err
		}
		b.created[id] = true
		s := shardOf(id, l)
		if per[s] >= capPer {
			// Never started, so it wrote nothing; a plugin already running
			// on the daemon may see it come and go, no more.
			if _, err := b.docker.Run(ctx, "rm", "-f", id); err != nil {
				return err
			}
			delete(b.created, id)
			continue
		}
		per[s]++
		b.ids = append(b.ids, id)
	}
	benchkit.Progress("created %d containers (%d x %d lines of %d bytes); writing the backlog", len(b.ids), c.containers, c.lines, c.size)
	t0 := time.Now()
	if _, err := b.docker.Run(ctx, append([]string{"start"}, b.ids...)...); err != nil {
		return err
	}
	out, err := b.docker.Run(ctx, append([]string{"wait"}, b.ids...)...)
	if err != nil {
		return err
	}
	for i, code := range strings.Fields(out) {
		if code != "0" {
			return fmt.Errorf("loggen in %s exited %s", b.ids[min(i, len(b.ids)-1)][:12], code)
		}
	}
	benchkit.Progress("backlog written in %s", time.Since(t0).Round(100*time.Millisecond))
	return nil
}

func (b *bench) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// By name too: a create cut short by ^C may have made a container whose
	// ID we never read.
	if out, err := b.docker.Run(ctx, "ps", "-aq", "--no-trunc", "--filter", "label=docker_logs.bench=shards",
		"--filter", fmt.Sprintf("name=docker_logs-bench-shards-%d-", os.Getpid())); err == nil {
		for _, id := range strings.Fields(out) {
			b.created[id] = true
		}
	}
	if len(b.created) == 0 {
		return
	}
	ids := make([]string, 0, len(b.created))
	for id := range b.created {
		ids = append(ids, id)
	}
	if err := b.docker.Remove(ids); err != nil {
		prog.Warnf("cleanup: %v", err)
		return
	}
	b.created = map[string]bool{}
}

type rawResult struct {
	lines   int
	elapsed time.Duration
}

func (r rawResult) rate() float64 { return float64(r.lines) / r.elapsed.Seconds() }

// rawRead reads every container's log once, all in parallel as the shards
// do, and counts the frames without looking at the payloads (curl writing to
// /dev/null). It also proves the backlog is complete: each log must hold
// exactly -lines entries.
func (b *bench) rawRead(ctx context.Context) (rawResult, error) {
	var wg sync.WaitGroup
	counts := make([]int, len(b.ids))
	errs := make([]error, len(b.ids))
	t0 := time.Now()
	for i, id := range b.ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[i], errs[i] = countFrames(ctx, b.api, id)
		}()
	}
	wg.Wait()
	r := rawResult{elapsed: time.Since(t0)}
	for i, n := range counts {
		if errs[i] != nil {
			return r, fmt.Errorf("%s: %w", b.ids[i][:12], errs[i])
		}
		if n != b.cfg.lines {
			return r, fmt.Errorf("%s: log holds %d entries, want %d", b.ids[i][:12], n, b.cfg.lines)
		}
		r.lines += n
	}
	benchkit.Progress("raw read: %d lines in %s, %.0f lines/s", r.lines, r.elapsed.Round(time.Millisecond), r.rate())
	return r, nil
}

// countFrames reads a container's whole log and counts its frames without
// copying their payloads.
func countFrames(ctx context.Context, a *benchkit.API, id string) (int, error) {
	body, err := a.Logs(ctx, id, url.Values{"stdout": {"1"}, "timestamps": {"1"}})
	if err != nil {
		return 0, err
	}
	defer body.Close()
	fr := benchkit.NewFrameReader(body, 256<<10)
	n := 0
	for {
		if err := fr.Skip(); err == io.EOF {
			return n, nil
		} else if err != nil {
			return n, err
		}
		n++
	}
}
