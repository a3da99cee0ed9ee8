package docker

import (
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// SelfContainerID returns the ID of the container this process runs in,
// or "" when it runs on the host (or cannot tell), and a short reason
// saying what it decided from, for the log.
func SelfContainerID() (id, reason string) {
	mountinfo, merr := os.ReadFile("/proc/self/mountinfo")
	cgroup, _ := os.ReadFile("/proc/self/cgroup")
	id, reason = selfContainerID(string(mountinfo), string(cgroup))
	if id == "" && merr != nil {
		reason = "cannot read /proc/self/mountinfo: " + merr.Error()
	}
	return id, reason
}

// selfContainerID decides from the contents of /proc/self/mountinfo and
// /proc/self/cgroup, looking only at what belongs to the process's own
// container (another container's directory mounted elsewhere, such as a
// host's .../containers/<id>/mounts/shm or a collector's bind mount of
// /var/lib/docker/containers, says nothing):
//
//   - a container cgroup: cgroup v1 (and v2 with the host's cgroup
//     namespace) shows /docker/<id>, /system.slice/docker-<id>.scope or
//     Podman's libpod-<id>.scope. It comes first: it is the process's own
//     even when the container shares another's network (--network
//     container:x), whose /etc/hostname it then mounts;
//   - else (cgroup v2 with a private namespace shows "0::/") the file
//     Docker bind-mounts at /etc/hostname from <data-root>/containers/<id>/
//     (Podman: .../overlay-containers/<id>/userdata/), or likewise at
//     /etc/hosts or /etc/resolv.conf.
func selfContainerID(mountinfo, cgroup string) (id, reason string) {
	if id := cgroupContainerID(cgroup); id != "" {
		return id, "cgroup"
	}
	mounts := make(map[string]string) // mount point -> root
	for _, line := range strings.Split(mountinfo, "\n") {
		// ID parentID major:minor root mountpoint options ... - fstype source superoptions
		f := strings.Fields(line)
		if len(f) >= 5 {
			mounts[unescapeMount(f[4])] = unescapeMount(f[3])
		}
	}
	for _, point := range []string{"/etc/hostname", "/etc/hosts", "/etc/resolv.conf"} {
		root, ok := mounts[point]
		if !ok || path.Base(root) != path.Base(point) {
			continue
		}
		if m := containerFileDir.FindStringSubmatch(path.Dir(root)); m != nil {
			return m[1] + m[2], "mount of " + point
		}
	}
	return "", "no /etc/hostname bind mount from a containers directory, no container cgroup"
}

// containerFileDir is the directory of a container's hostname, hosts and
// resolv.conf files: Docker's <data-root>/containers/<id>, Podman's
// .../overlay-containers/<id>/userdata.
var containerFileDir = regexp.MustCompile(`(?:^|/)(?:containers/([0-9a-f]{64})|overlay-containers/([0-9a-f]{64})/userdata)$`)

// containerCgroup is the end of a container's cgroup path: /docker/<id>
// (cgroupfs driver), docker-<id>.scope (systemd driver), Podman's
// libpod-<id>.scope or /libpod_parent/libpod-<id> (not libpod-conmon-).
var containerCgroup = regexp.MustCompile(`(?:/docker/|/docker-|/libpod-)([0-9a-f]{64})(?:\.scope)?$`)

// cgroupContainerID reads /proc/self/cgroup ("hierarchy:controllers:path"
// lines) for a path ending in a container's cgroup.
func cgroupContainerID(cgroup string) string {
	for _, line := range strings.Split(cgroup, "\n") {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if m := containerCgroup.FindStringSubmatch(strings.TrimRight(parts[2], "/")); m != nil {
			return m[1]
		}
	}
	return ""
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
