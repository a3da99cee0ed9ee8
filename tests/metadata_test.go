package tests

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docker-logs/docker_logs/tests/internal/dockertest"
)

// Records carry what a user routes on: image_id, the daemon's host name
// (or the hostname key), Compose project and service, and the labels the
// labels key selects; a renamed container's later records carry the new
// name. Two inputs in one host: the defaults plus a label selection, and
// every label with an overridden host name.
func TestRecordMetadata(t *testing.T) {
	d := needDocker(t)
	sfx := suffix()
	daemonHost, err := d.Docker("info", "-f", "{{.Name}}")
	if err != nil {
		t.Fatal(err)
	}
	h := startHost(t, append(append([]string{"--interval-ms", "200"},
		instanceArgs(d.Host(), "labels=com.example.*, app", "include_names=*"+sfx)...),
		instanceArgs(d.Host(), "labels=*", "hostname=edge-7", "include_names=*"+sfx)...)...)
	h.waitLog("docker_logs.1] connected to docker", 30*time.Second)

	composeLabels := map[string]string{"com.docker.compose.project": "shop", "com.docker.compose.service": "web",
		"com.example.team": "payments", "app": "checkout", "other": "x"}
	composed, err := d.Run(dockertest.Run{Name: "composed" + sfx, Labels: composeLabels, Args: []string{"-n", "5"}})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := d.Run(dockertest.Run{Name: "plain" + sfx, Args: []string{"-n", "5"}})
	if err != nil {
		t.Fatal(err)
	}
	// Writes for 6 s, renamed once both inputs have its first lines.
	renamed, err := d.Run(dockertest.Run{Name: "before" + sfx, Args: []string{"-n", "60", "-rate", "10"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Remove(composed, plain, renamed) })
	h.waitFor("the first lines of the container to rename", 30*time.Second, func([]record) bool {
		return len(ofContainer(ofInstance(h, "docker_logs.0").records(), renamed)) >= 5 &&
			len(ofContainer(ofInstance(h, "docker_logs.1").records(), renamed)) >= 5
	})
	if _, err := d.Docker("rename", "before"+sfx, "after"+sfx); err != nil {
		t.Fatal(err)
	}
	imageID, err := d.Docker("inspect", "-f", "{{.Image}}", composed)
	if err != nil {
		t.Fatal(err)
	}

	for _, id := range []string{composed, plain, renamed} {
		if err := d.Wait(id); err != nil {
			t.Fatal(err)
		}
		for _, inst := range []string{"docker_logs.0", "docker_logs.1"} {
			if id != renamed {
				awaitEveryLineOnce(t, d, ofInstance(h, inst), id)
				continue
			}
			recs, ref := awaitLines(t, d, ofInstance(h, inst), id)
			assertExactlyOnce(t, recs, ref, id, "") // its names are checked below
		}
	}
	check := func(inst, id string, want map[string]any) {
		t.Helper()
		for _, r := range ofContainer(ofInstance(h, inst).records(), id) {
			got := map[string]any{}
			for k := range want {
				if v, ok := r.Record[k]; ok {
					got[k] = v
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: record %v\nwant fields %v", inst, r.Record, want)
			}
		}
	}
	check("docker_logs.0", composed, map[string]any{
		"container_name": "composed" + sfx, "image": dockertest.Image, "image_id": imageID,
		"hostname": daemonHost, "compose_project": "shop", "compose_service": "web",
		"labels": map[string]any{"com.example.team": "payments", "app": "checkout"},
	})
	// labels=* is every label, the image's included.
	js, err := d.Docker("inspect", "-f", "{{json .Config.Labels}}", composed)
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]any
	if err := json.Unmarshal([]byte(js), &all); err != nil || len(all) <= len(composeLabels) {
		t.Fatalf("labels %s: %v", js, err)
	}
	check("docker_logs.1", composed, map[string]any{"hostname": "edge-7", "labels": all})
	for _, inst := range []string{"docker_logs.0", "docker_logs.1"} {
		// Without Compose's labels, nor any the first input selects (the
		// image's own label is one of every container's).
		absent := []string{"compose_project", "compose_service", "labels"}
		if inst == "docker_logs.1" {
			absent = absent[:2]
		}
		for _, r := range ofContainer(ofInstance(h, inst).records(), plain) {
			for _, k := range absent {
				if _, ok := r.Record[k]; ok {
					t.Fatalf("%s: a container without such labels got %s: %v", inst, k, r.Record)
				}
			}
		}
		// The name switches once, from the old to the new, and the lines
		// written well after the rename carry the new one.
		names := []string{}
		for _, r := range ofContainer(ofInstance(h, inst).records(), renamed) {
			if n := r.str("container_name"); len(names) == 0 || names[len(names)-1] != n {
				names = append(names, n)
			}
		}
		if strings.Join(names, " ") != "before"+sfx+" after"+sfx {
			t.Errorf("%s: names along the renamed container's records: %v", inst, names)
		}
	}
}

// record_fields container_name: records carry log, stream and the name,
// nothing else.
func TestLeanRecords(t *testing.T) {
	d := needDocker(t)
	name := "lean" + suffix()
	h := startHost(t, instanceArgs(d.Host(), "include_names="+name, "read_from_head=true", "record_fields=container_name")...)
	id, err := d.Run(dockertest.Run{Name: name, Args: []string{"-n", "5"}, Labels: map[string]string{"com.docker.compose.service": "web"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Remove(id) })
	recs := h.waitFor("5 records", 30*time.Second, func(r []record) bool { return len(r) >= 5 })
	for _, r := range recs {
		var keys []string
		for k := range r.Record {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if fmt.Sprint(keys) != "[container_name log stream]" || r.str("container_name") != name {
			t.Fatalf("record %v: want exactly log, stream and container_name %s", r.Record, name)
		}
	}
}
