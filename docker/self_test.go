package docker

import (
	"strings"
	"testing"
)

func TestSelfIDFrom(t *testing.T) {
	id := strings.Repeat("0123456789abcdef", 4)
	cases := map[string]string{
		"12:memory:/docker/" + id + "\n":             id, // cgroup v1
		"0::/system.slice/docker-" + id + ".scope\n": id, // systemd driver
		"612 590 0:25 /var/lib/docker/containers/" + id + "/hostname /etc/hostname rw,relatime - ext4 /dev/vda rw\n": id, // cgroup v2 mounts
		"0::/\n": "", // on the host
		"0::/user.slice/user-0.slice/session-1.scope\n": "",
	}
	for in, want := range cases {
		if got := selfIDFrom(in); got != want {
			t.Errorf("selfIDFrom(%q) = %q, want %q", in, got, want)
		}
	}
}
