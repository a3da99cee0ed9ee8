package dockertest

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDaemonDir(t *testing.T) {
	for _, c := range []struct{ dir, env, version, want string }{
		{"", "", "", DefaultDir},
		{"", "/tmp/e", "", "/tmp/e"},
		{"/tmp/dl-kill", "/tmp/e", "", "/tmp/dl-kill"},
		{"", "", "28.5.2", DefaultDir + "-28.5.2"},
		{"", "/tmp/e", "28.5.2", "/tmp/e"},
		{"/tmp/dl-kill", "/tmp/e", "28.5.2", "/tmp/dl-kill-28.5.2"},
	} {
		if got := daemonDir(c.dir, c.env, c.version); got != c.want {
			t.Errorf("daemonDir(%q, %q, %q) = %q, want %q", c.dir, c.env, c.version, got, c.want)
		}
	}
}

func TestResolveDockerd(t *testing.T) {
	if p, v, err := resolveDockerd("/", ""); p != "" || v != "" || err != nil {
		t.Errorf(`resolveDockerd("") = %q, %q, %v; want the default`, p, v, err)
	}
	root := t.TempDir()
	fake := filepath.Join(root, "bin", "dockerd")
	if err := os.MkdirAll(filepath.Dir(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho 'Docker version 28.5.2, build go-module'\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{fake, "bin/dockerd"} { // absolute; relative to the repo root
		p, v, err := resolveDockerd(root, name)
		if err != nil || p != fake || v != "28.5.2" {
			t.Errorf("resolveDockerd(%q) = %q, %q, %v; want %q, 28.5.2", name, p, v, err, fake)
		}
	}
	if _, _, err := resolveDockerd(root, "bin/missing"); err == nil {
		t.Error("resolveDockerd(bin/missing): no error")
	}
}
