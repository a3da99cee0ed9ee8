package tests

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docker-logs/docker_logs/tests/internal/dockertest"
)

// Ten containers of mixed names, labels and images, one of them started
// later, and six inputs with different filters in one Fluent Bit: each
// input collects exactly the containers its filters select.
func TestFiltersOnRealDaemon(t *testing.T) {
	d := needDocker(t)
	// A second image reference to filter on (no image can be pulled).
	if _, err := d.Docker("tag", dockertest.Image, "example.com/team/api:2"); err != nil {
		t.Fatal(err)
	}
	sfx := suffix()
	type ctr struct {
		name, image string
		labels      map[string]string
	}
	api := "example.com/team/api:2"
	ctrs := []ctr{
		{"web-1", dockertest.Image, map[string]string{"tier": "front"}},
		{"web-2", api, map[string]string{"tier": "front"}},
		{"api-1", api, map[string]string{"tier": "back"}},
		{"api-2", dockertest.Image, map[string]string{"tier": "back"}},
		{"db", dockertest.Image, map[string]string{"tier": "data"}},
		{"job-1", dockertest.Image, nil},
		{"job-2", dockertest.Image, map[string]string{"docker_logs.exclude": "true"}},
		{"worker-a", dockertest.Image, map[string]string{"tier": "back", "team": "x"}},
		{"worker-b", api, map[string]string{"team": "x"}},
	}
	late := ctr{"web-3", dockertest.Image, map[string]string{"tier": "front"}}
	filters := []struct {
		keys []string
		want string
	}{
		{nil, "api-1 api-2 db job-1 web-1 web-2 web-3 worker-a worker-b"},
		{[]string{"include_names=web-*"}, "web-1 web-2 web-3"},
		{[]string{"include_labels=tier=back"}, "api-1 api-2 worker-a"},
		{[]string{"exclude_labels=tier", "exclude_names=/^job/"}, "worker-b"},
		{[]string{"include_images=example.com/team/*"}, "api-1 web-2 worker-b"},
		{[]string{"include_labels=team", "exclude_images=example.com/*"}, "worker-a"},
	}
	args := []string{"--interval-ms", "200"}
	for _, f := range filters {
		args = append(args, instanceArgs(d.Host(), f.keys...)...)
	}
	h := startHost(t, args...)
	h.waitLog(fmt.Sprintf("docker_logs.%d] connected to docker", len(filters)-1), 30*time.Second)
	run := func(c ctr) {
		id, err := d.Run(dockertest.Run{Name: c.name + sfx, Image: c.image, Labels: c.labels, Args: []string{"-n", "3"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Remove(id) })
	}
	for _, c := range ctrs {
		run(c)
	}
	time.Sleep(2 * time.Second)
	run(late)
	for i, f := range filters {
		inst := fmt.Sprintf("docker_logs.%d", i)
		want := strings.Fields(f.want)
		var got []string
		deadline := time.Now().Add(30 * time.Second)
		for {
			got = collectedNames(h.records(), inst, sfx)
			if len(got) >= len(want) || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond) // anything more would show now
		got = collectedNames(h.records(), inst, sfx)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s %v collected %v, want %v", inst, f.keys, got, want)
		}
	}
}

// collectedNames lists the containers of this test (name suffix sfx) an
// instance delivered all 3 lines of, without the suffix, sorted.
func collectedNames(recs []record, inst, sfx string) []string {
	n := map[string]int{}
	for _, r := range recs {
		if name := r.str("container_name"); r.Instance == inst && strings.HasSuffix(name, sfx) {
			n[strings.TrimSuffix(name, sfx)]++
		}
	}
	var out []string
	for name, c := range n {
		if c == 3 {
			out = append(out, name)
		} else {
			out = append(out, fmt.Sprintf("%s(%d lines)", name, c))
		}
	}
	sort.Strings(out)
	return out
}
