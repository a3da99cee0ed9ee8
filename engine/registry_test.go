package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-logs/docker_logs/conf"
	"github.com/docker-logs/docker_logs/docker"
)

// Two instances with one db would each save only their own containers over
// the other's: the second is refused at init, naming the key, the path and
// both instances. Spellings of one file (relative, with dots, through a
// linked directory) are the same db; a stopped instance frees its db.
func TestRegistrySharedDB(t *testing.T) {
	var r Registry
	r.NewAPI = func(conf.Config) (docker.API, error) { return newFakeAPI(), nil }
	defer r.StopAll()
	dir := t.TempDir()
	db := filepath.Join(dir, "positions.db")

	if _, err := r.Init(conf.Map{"db": db, "shard": "1/2"}, Host{HasCtx: true}); err != nil {
		t.Fatal(err)
	}
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(cwd, db)
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, same := range []string{
		db,
		rel,
		dir + "/./sub/../positions.db",
		filepath.Join(link, "positions.db"),
	} {
		_, err := r.Init(conf.Map{"db": same, "shard": "2/2"}, Host{HasCtx: true})
		if err == nil {
			t.Fatalf("db %s: a second instance with the db of docker_logs.0 was accepted", same)
		}
		name := fmt.Sprint("docker_logs.", i+1) // the refused instance
		for _, want := range []string{"invalid db", same, db, "instance docker_logs.0", "docker_logs.0 and " + name, "overwrite"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("db %s: the message does not say %q: %s", same, want, err)
			}
		}
	}

	// An instance refused for another reason does not take a db.
	other := filepath.Join(dir, "other.db")
	if _, err := r.Init(conf.Map{"db": other, "docker_host": "ftp://x"}, Host{HasCtx: true}); err == nil {
		t.Fatal("bad docker_host accepted")
	}
	if _, err := r.Init(conf.Map{"db": other, "shard": "2/2"}, Host{HasCtx: true}); err != nil {
		t.Fatalf("a db of its own was refused: %v", err)
	}
	if _, err := r.Init(conf.Map{}, Host{HasCtx: true}); err != nil {
		t.Fatalf("an instance without db was refused: %v", err)
	}
	if _, err := r.Init(conf.Map{}, Host{HasCtx: true}); err != nil {
		t.Fatalf("a second instance without db was refused: %v", err)
	}

	// Stopped instances free their db (a hot reload starts them again).
	r.StopAll()
	if _, err := r.Init(conf.Map{"db": db}, Host{HasCtx: true}); err != nil {
		t.Fatalf("the db of a stopped instance: %v", err)
	}
	if _, err := r.Init(conf.Map{"db": other}, Host{HasCtx: true}); err != nil {
		t.Fatalf("the db of a stopped instance: %v", err)
	}
}
