package engine

import (
	"testing"

	"github.com/docker-logs/docker_logs/docker"
)

// The filters decide which containers get a monitor; a container left out
// is looked at again when it is renamed.
func TestEngineFilters(t *testing.T) {
	api := newFakeAPI()
	e := startEngine(t, api, "include_names", "app-*", "exclude_names", "app-secret")
	c := &collector{t: t, e: e}
	for _, name := range []string{"app-1", "app-secret", "other"} {
		api.run(name, name)
		api.write(name, docker.Stdout, "from "+name)
	}
	c.until("app-1's line", c.count(1))
	c.settle()
	if len(c.recs) != 1 || c.recs[0].Fields["container_name"] != "app-1" {
		t.Fatalf("collected %v, want only app-1", c.recs)
	}
	// "other" renamed into the selection: collected from then on.
	api.mu.Lock()
	api.containers["other"].info.Name = "app-2"
	api.notifyLocked(docker.Event{Action: "rename", ID: "other", Name: "app-2", Time: now()})
	api.mu.Unlock()
	api.write("other", docker.Stdout, "after the rename")
	c.until("the renamed container's lines", c.count(3))
	c.settle()
	assertLines(t, logs(c.recs, "app-2", "stdout"), []string{"from other", "after the rename"})
}
