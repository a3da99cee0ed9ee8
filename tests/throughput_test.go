package tests

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker-logs/docker_logs/engine"
	"github.com/docker-logs/docker_logs/tests/internal/dockertest"
)

// collectSizes reads the host's --collects file: the bytes of each
// non-empty collect of one instance, in order.
func collectSizes(t *testing.T, path, instance string) []int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ms int64
		var inst string
		var size, recs int
		if _, err := fmt.Sscan(sc.Text(), &ms, &inst, &size, &recs); err == nil && inst == instance {
			out = append(out, size)
		}
	}
	return out
}

// Without flb_input_log_append (the fallback path), with the default
// chunk_max_size, Fluent Bit's 1 s collect and a container writing faster
// than that bound: no collect carries more than the cap, most carry
// 90-100% of it for 30 s, no chunk exceeds what a default forward hop
// accepts (6 MB; the host fails otherwise), and the plugin says the bound
// is the bottleneck. (Most, not each: a loaded host can stall the reading
// for a second; a clean-clone run with two busy loops had one collect of
// 96,725 bytes among 30 full ones.)
func TestCollectsCarryTheBound(t *testing.T) {
	d := needDocker(t)
	const chunkMax = 2000000 // the default
	collects := filepath.Join(t.TempDir(), "collects")
	h := startHostBin(t, hostNoAppend, append([]string{"--collects", collects, "--max-chunk", "6000000"}, instanceArgs(d.Host())...)...)
	h.waitLog("connected to docker", 30*time.Second)
	id, err := d.Run(dockertest.Run{Name: "fast" + suffix(), Args: []string{"-n", "600000", "-size", "100"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Remove(id) })
	deadline := time.Now().Add(90 * time.Second)
	for len(collectSizes(t, collects, "docker_logs.0")) < 33 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d collects", len(collectSizes(t, collects, "docker_logs.0")))
		}
		time.Sleep(time.Second)
	}
	sizes := collectSizes(t, collects, "docker_logs.0")[2:33] // past the start-up
	full := 0
	for _, s := range sizes {
		if s > chunkMax {
			t.Fatalf("a collect carried %d bytes, over chunk_max_size %d (all: %v)", s, chunkMax, sizes)
		}
		if s >= chunkMax*9/10 {
			full++
		}
	}
	if full < len(sizes)*3/4 {
		t.Fatalf("%d of %d collects carried 90-100%% of %d bytes; want three in four (all: %v)", full, len(sizes), chunkMax, sizes)
	}
	t.Logf("%d of %d collects carried 90-100%% of chunk_max_size: %v", full, len(sizes), sizes)
	h.waitLog("Raise chunk_max_size", 30*time.Second)
}

// Two inputs with shard 1/2 and 2/2 split the containers: each container
// is collected by exactly one of them, the one its ID hashes to, and each
// line arrives once; appended straight into Fluent Bit, and through the
// collect buffer.
func TestShardsSplitContainers(t *testing.T) {
	d := needDocker(t)
	for _, bin := range []string{hostAppend, hostNoAppend} {
		t.Run(filepath.Base(bin), func(t *testing.T) { testShardsSplitContainers(t, d, bin) })
	}
}

func testShardsSplitContainers(t *testing.T, d *dockertest.Daemon, bin string) {
	args := []string{"--interval-ms", "200"}
	args = append(args, instanceArgs(d.Host(), "shard=1/2")...)
	args = append(args, instanceArgs(d.Host(), "shard=2/2")...)
	h := startHostBin(t, bin, args...)
	h.waitLog("docker_logs.1] connected to docker", 30*time.Second)
	var ids []string
	for i := 0; i < 6; i++ {
		id, err := d.Run(dockertest.Run{Name: fmt.Sprintf("shard-%d%s", i, suffix()), Args: []string{"-n", "500", "-stream", "both"}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		t.Cleanup(func() { d.Remove(id) })
	}
	shards := map[int]int{}
	for _, id := range ids {
		d.Wait(id)
		recs, _ := awaitEveryLineOnce(t, d, h, id)
		want := "docker_logs.0"
		if engine.InShard(id, 2, 2) {
			want = "docker_logs.1"
		}
		for _, r := range ofContainer(recs, id) {
			if r.Instance != want {
				t.Fatalf("container %.12s collected by %s, want %s only", id, r.Instance, want)
			}
		}
		shards[map[string]int{"docker_logs.0": 1, "docker_logs.1": 2}[want]]++
	}
	t.Logf("containers per shard: %v", shards)
}

// Bad shard values, two inputs with the same shard, and shards on a Fluent
// Bit without instance contexts: init fails, naming shard.
func TestBadShardValues(t *testing.T) {
	host := "unix:///nonexistent/docker.sock"
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"0/4", instanceArgs(host, "shard=0/4"), `invalid shard "0/4"`},
		{"5/4", instanceArgs(host, "shard=5/4"), `invalid shard "5/4"`},
		{"2/x", instanceArgs(host, "shard=2/x"), `invalid shard "2/x"`},
		{"same index twice", append(instanceArgs(host, "shard=2/4"), instanceArgs(host, "shard=2/4")...), "invalid shard 2/4"},
		{"different totals", append(instanceArgs(host, "shard=1/2"), instanceArgs(host, "shard=2/3")...), "invalid shard 2/3"},
		{"Fluent Bit < 4.1", append([]string{"--legacy"}, instanceArgs(host, "shard=1/2")...), "need Fluent Bit 4.1 or newer"},
	}
	for _, c := range cases {
		h := startHost(t, c.args...)
		if code := h.exitCode(30 * time.Second); code != 255 {
			t.Fatalf("%s: host exited %d, want 255", c.name, code)
		}
		if msg := h.output.String(); !strings.Contains(msg, c.want) {
			t.Fatalf("%s: message lacks %q:\n%s", c.name, c.want, msg)
		}
	}
}
