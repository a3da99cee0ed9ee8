package docker

import (
	"os"
	"regexp"
)

// containerIDIn finds a 64-hex container ID the way the kernel shows one
// to a process in a container: cgroup v1 paths (/docker/<id>), systemd
// scopes (docker-<id>.scope), and under cgroup v2 the mounts of the
// container's own files (/containers/<id>/hostname).
var containerIDIn = regexp.MustCompile(`(?:/docker/|docker-|/containers/)([0-9a-f]{64})(?:\.scope|/|\s|$)`)

// SelfContainerID returns the ID of the container this process runs in,
// or "" when it runs on the host (or cannot tell).
func SelfContainerID() string {
	for _, f := range []string{"/proc/self/cgroup", "/proc/self/mountinfo"} {
		if raw, err := os.ReadFile(f); err == nil {
			if id := selfIDFrom(string(raw)); id != "" {
				return id
			}
		}
	}
	return ""
}

func selfIDFrom(text string) string {
	if m := containerIDIn.FindStringSubmatch(text); m != nil {
		return m[1]
	}
	return ""
}
