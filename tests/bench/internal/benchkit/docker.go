package benchkit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// What tests/docker/dockerd.sh sets up: the benchmarks run against its
// private daemon and its loggen image, never the system daemon.
const (
	// DefaultDir is dockerd.sh's state directory (DL_DOCKER_DIR).
	DefaultDir = "/tmp/docker_logs-dockerd"
	// LoggenImage is the image of tests/loggen that dockerd.sh image builds.
	LoggenImage = "docker_logs-loggen:test"
	// StartHint tells how to get the daemon and the image when they are
	// missing.
	StartHint = "start it: bash tests/docker/dockerd.sh start && bash tests/docker/dockerd.sh image"
)

// Socket is the daemon's unix socket in dockerd.sh's state directory dir.
func Socket(dir string) string { return filepath.Join(dir, "docker.sock") }

// NewDocker drives the daemon of dockerd.sh's state directory dir with the
// docker binary cli.
func NewDocker(cli, dir string) Docker { return Docker{CLI: cli, Socket: Socket(dir)} }

// RunLabel is the value of Label that marks one run's containers: the
// program's name and pid, so that runs never touch each other's.
func RunLabel(name string) string { return name + "-" + strconv.Itoa(os.Getpid()) }

// Docker runs the docker CLI against one daemon. The CLI, rather than the
// API, does what is not measured (create, start, wait, inspect, rm): it is
// the reference client, and its errors read as they would by hand.
type Docker struct {
	CLI    string // the docker binary
	Socket string // the daemon's unix socket
}

// Host is the daemon's address as DOCKER_HOST and docker_host spell it.
func (d Docker) Host() string { return "unix://" + d.Socket }

// Run runs docker -H unix://Socket args... and returns its trimmed output
// (stdout and stderr); the error quotes the command and that output.
func (d Docker) Run(ctx context.Context, args ...string) (string, error) {
	full := append([]string{"-H", d.Host()}, args...)
	out, err := exec.CommandContext(ctx, d.CLI, full...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// Remove force-removes containers and says how many on stderr. It runs with
// its own minute-long context: it is meant for the cleanup at exit, when the
// run's context may already be cancelled (^C).
func (d Docker) Remove(ids []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := d.Run(ctx, append([]string{"rm", "-f"}, ids...)...); err != nil {
		return err
	}
	Progress("removed %d containers", len(ids))
	return nil
}
