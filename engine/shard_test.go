package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/docker-logs/docker_logs/conf"
	"github.com/docker-logs/docker_logs/docker"
)

// Every container belongs to exactly one shard, and the shards are about
// even.
func TestInShardPartitions(t *testing.T) {
	const n = 4
	counts := make([]int, n+1)
	for i := 0; i < 4000; i++ {
		id := fmt.Sprintf("%064x", i*7919)
		owners := 0
		for s := 1; s <= n; s++ {
			if InShard(id, s, n) {
				owners++
				counts[s]++
			}
		}
		if owners != 1 {
			t.Fatalf("container %s is in %d shards", id, owners)
		}
	}
	for s := 1; s <= n; s++ {
		if counts[s] < 800 || counts[s] > 1200 {
			t.Errorf("shard %d/%d has %d of 4000 containers", s, n, counts[s])
		}
	}
}

func TestRegistryShardChecks(t *testing.T) {
	var r Registry
	r.NewAPI = func(conf.Config) (docker.API, error) { return newFakeAPI(), nil }
	defer r.StopAll()
	if _, err := r.Init(conf.Map{"shard": "1/2"}, Host{HasCtx: false}); err == nil || !strings.Contains(err.Error(), "invalid shard 1/2") || !strings.Contains(err.Error(), "4.1") {
		t.Fatalf("shard without instance contexts: %v", err)
	}
	if _, err := r.Init(conf.Map{"shard": "1/4"}, Host{HasCtx: true}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ v, want string }{
		{"1/4", "already has it"},
		{"2/3", "same total"},
	} {
		if _, err := r.Init(conf.Map{"shard": c.v}, Host{HasCtx: true}); err == nil || !strings.Contains(err.Error(), "invalid shard "+c.v) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("shard %s: %v", c.v, err)
		}
	}
	if _, err := r.Init(conf.Map{"shard": "1/4", "docker_host": "unix:///other.sock"}, Host{HasCtx: true}); err != nil {
		t.Errorf("the same shard of another daemon was refused: %v", err)
	}
}

// A sharded engine monitors only its own containers.
func TestEngineShard(t *testing.T) {
	api := newFakeAPI()
	e := startEngine(t, api, "shard", "2/3")
	c := &collector{t: t, e: e}
	mine := 0
	for i := 0; i < 12; i++ {
		id := fmt.Sprintf("%064x", i)
		api.create(id, fmt.Sprint("c", i), false)
		api.setRunning(id, true)
		api.write(id, docker.Stdout, "hello")
		if InShard(id, 2, 3) {
			mine++
		}
	}
	c.until("the shard's lines", c.count(mine))
	c.settle()
	if len(c.recs) != mine {
		t.Fatalf("%d records, want %d", len(c.recs), mine)
	}
	for _, r := range c.recs {
		if !InShard(r.Fields["container_id"].(string), 2, 3) {
			t.Fatalf("a record of another shard: %v", r.Fields)
		}
	}
}

// Collects capped at chunk_max_size with more waiting are counted, and
// after a while the user is told the bound is the bottleneck.
func TestEngineWarnsWhenCapped(t *testing.T) {
	defer func(d time.Duration) { cappedFor = d }(cappedFor)
	cappedFor = time.Second
	api := newFakeAPI()
	e, log := startEngineLog(t, api, "chunk_max_size", "4K", "buffer_max_size", "64K")
	api.run("c1", "fast")
	for i := 0; i < 20000; i++ {
		api.mu.Lock()
		api.containers["c1"].entries = append(api.containers["c1"].entries, fakeEntry{docker.Stdout, now(), fmt.Sprintf("line %d %s", i, strings.Repeat("x", 100))})
		api.mu.Unlock()
	}
	api.setRunning("c1", true) // wake the stream
	waitUntil(t, "a full buffer", func() bool { return e.buf.Len() > 32000 })
	start := time.Now()
	for time.Since(start) < cappedFor+time.Second && !strings.Contains(log.String(), "chunk_max_size") {
		buf := e.Collect()
		if len(buf) < 3600 || len(buf) > 4000 {
			t.Fatalf("a collect carried %d bytes; want 90-100%% of 4000", len(buf))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(log.String(), "Raise chunk_max_size") || !strings.Contains(log.String(), "shard") {
		t.Fatalf("no warning naming the remedies:\n%s", log.String())
	}
	if e.Stats().CappedCollects.Load() < 10 {
		t.Fatalf("%d capped collects counted", e.Stats().CappedCollects.Load())
	}
}
