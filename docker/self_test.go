package docker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The plugin's own container is told only by what belongs to it: the
// bind mounts Docker makes at /etc/hostname (/etc/hosts, /etc/resolv.conf)
// from <data-root>/containers/<id>/, and a container cgroup. Other
// containers' directories mounted elsewhere (a host's shm mounts, or
// /var/lib/docker/containers bind-mounted into a collector) say nothing.
func TestSelfContainerID(t *testing.T) {
	const own = "3f1c9a2b7d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeef"
	read := func(name string) string {
		if name == "" {
			return ""
		}
		raw, err := os.ReadFile(filepath.Join("testdata", "self", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	cases := []struct {
		mountinfo, cgroup string // files in testdata/self
		id, reason        string
	}{
		// A host process (cgroup v2) on a Docker host: a container's shm
		// is mounted at /var/lib/docker/containers/<id>/mounts/shm.
		{"host.mountinfo", "host.cgroup", "", ""},
		// In a container under cgroup v2 (private cgroup namespace: "0::/"),
		// with the host's containers directory mounted as well.
		{"container.mountinfo", "container.cgroup", own, "mount of /etc/hostname"},
		// cgroup v1: every hierarchy names the container.
		{"", "container-v1.cgroup", own, "cgroup"},
		{"host.mountinfo", "container-v1.cgroup", own, "cgroup"},
	}
	for _, c := range cases {
		id, reason := selfContainerID(read(c.mountinfo), read(c.cgroup))
		if id != c.id || (c.id != "" && reason != c.reason) || (c.id == "" && reason == "") {
			t.Errorf("mountinfo %q, cgroup %q: got %q (%q), want %q (%q)", c.mountinfo, c.cgroup, id, reason, c.id, c.reason)
		}
	}
}

func TestSelfContainerIDLines(t *testing.T) {
	id := strings.Repeat("0123456789abcdef", 4)
	other := strings.Repeat("fedcba9876543210", 4)
	mount := func(root, point string) string {
		return "612 590 8:1 " + root + " " + point + " rw,relatime - ext4 /dev/vda rw\n"
	}
	cases := []struct {
		mountinfo, cgroup string
		id, reason        string
	}{
		{"", "12:memory:/docker/" + id + "\n", id, "cgroup"},
		{"", "0::/system.slice/docker-" + id + ".scope\n", id, "cgroup"},
		{"", "0::/machine.slice/libpod-" + id + ".scope\n", id, "cgroup"},
		{"", "0::/machine.slice/libpod-conmon-" + id + ".scope\n", "", ""},
		{"", "0::/\n", "", ""},
		{"", "0::/user.slice/user-0.slice/session-1.scope\n", "", ""},
		{mount("/var/lib/docker/containers/"+id+"/hostname", "/etc/hostname"), "0::/\n", id, "mount of /etc/hostname"},
		// data-root on its own file system: the root is relative to it
		{mount("/containers/"+id+"/hostname", "/etc/hostname"), "0::/\n", id, "mount of /etc/hostname"},
		{mount("/var/lib/docker/containers/"+id+"/hosts", "/etc/hosts"), "", id, "mount of /etc/hosts"},
		{mount("/var/lib/docker/containers/"+id+"/resolv.conf", "/etc/resolv.conf"), "", id, "mount of /etc/resolv.conf"},
		// a data-root with a space, which mountinfo writes as \040
		{mount(`/srv/docker\040data/containers/`+id+"/hostname", "/etc/hostname"), "", id, "mount of /etc/hostname"},
		// Podman's container files
		{mount("/var/lib/containers/storage/overlay-containers/"+id+"/userdata/hostname", "/etc/hostname"), "", id, "mount of /etc/hostname"},
		// the file must be the one mounted there
		{mount("/var/lib/docker/containers/"+id+"/hosts", "/etc/hostname"), "", "", ""},
		// another container's files, mounted anywhere else
		{mount("/var/lib/docker/containers/"+id+"/hostname", "/mnt/hostname"), "", "", ""},
		{mount("/var/lib/docker/containers/"+id, "/data/"+id), "", "", ""},
		{mount("/", "/var/lib/docker/containers/"+id+"/mounts/shm"), "0::/\n", "", ""},
		// --network container:other shares other's /etc/hostname; the
		// cgroup, when it names a container, is the process's own
		{mount("/var/lib/docker/containers/"+other+"/hostname", "/etc/hostname"), "12:memory:/docker/" + id + "\n", id, "cgroup"},
	}
	if got := unescapeMount(`/srv/docker\040data\011x\`); got != "/srv/docker data\tx\\" {
		t.Errorf("unescapeMount = %q", got)
	}
	for _, c := range cases {
		got, reason := selfContainerID(c.mountinfo, c.cgroup)
		if got != c.id || (c.id != "" && reason != c.reason) {
			t.Errorf("selfContainerID(%q, %q) = %q (%q), want %q (%q)", c.mountinfo, c.cgroup, got, reason, c.id, c.reason)
		}
	}
}
