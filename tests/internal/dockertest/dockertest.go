// Package dockertest gives integration tests a real Docker daemon: the
// private dockerd of tests/docker/dockerd.sh (started on demand) with the
// log generator image docker_logs-loggen:test (tests/loggen) built into it.
//
// Typical use:
//
//	d, err := dockertest.Setup()
//	if err != nil {
//		if dockertest.Required() {
//			t.Fatal(err)
//		}
//		t.Skip(err)
//	}
//	defer d.Teardown()
//	id, err := d.Run(dockertest.Run{Args: []string{"-n", "3", "-stream", "both"}})
//
// Sharing: the daemon lives in one directory (DL_DOCKER_DIR, default
// /tmp/docker_logs-dockerd) and is shared by every test process that uses the
// same directory (go test runs packages in parallel). Each Setup takes a lease;
// Teardown drops it, and the last process out stops the daemon if a Setup
// started it (a daemon started by hand, or named by DL_DOCKER_HOST, is never
// stopped). Kill and Start affect every process sharing the daemon: a test that
// crashes the daemon should use SetupConfig with its own short Dir.
//
// Environment:
//
//	DL_DOCKER_HOST         use this running daemon as is (no start, no image build),
//	                       except where Config.Dir names a daemon of the test's own
//	DL_DOCKER_DIR          daemon directory for dockerd.sh
//	DL_DOCKERD_EXTRA_ARGS  extra dockerd arguments (default here: --live-restore)
//	DL_DOCKER_CLI          docker client (default /usr/bin/docker, else PATH)
//	DL_DOCKERD             dockerd binary to start (default: dockerd in PATH,
//	                       Debian's), e.g. build/dockerd-28.5.2/dockerd (see
//	                       Config.Dockerd)
//	CI=true                Required() reports true: a failing Setup must fail
package dockertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Image is the log generator image that Setup builds (ENTRYPOINT /loggen).
const Image = "docker_logs-loggen:test"

// DefaultExtraArgs is passed to dockerd when neither Config.ExtraArgs nor
// DL_DOCKERD_EXTRA_ARGS is set: with live restore, containers survive Kill.
const DefaultExtraArgs = "--live-restore"

// DefaultDir is dockerd.sh's default daemon directory.
const DefaultDir = "/tmp/docker_logs-dockerd"

// CommandTimeout bounds each docker CLI call made through a Daemon.
var CommandTimeout = 2 * time.Minute

// Required reports whether a daemon is mandatory (env CI true, 1, TRUE...):
// callers fail instead of skipping when Setup returns an error.
func Required() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// Config selects the daemon that SetupConfig uses.
type Config struct {
	// Dir is the daemon directory (DL_DOCKER_DIR). Empty: env, else
	// DefaultDir. Keep it short (unix socket paths below it must fit in 108
	// bytes): e.g. "/tmp/dl-crash", not t.TempDir().
	Dir string
	// ExtraArgs are extra dockerd arguments, space separated
	// (DL_DOCKERD_EXTRA_ARGS). Empty: env, else DefaultExtraArgs. They apply
	// only when this Setup starts the daemon (and to Start).
	ExtraArgs string
	// Dockerd is the dockerd binary to start (DL_DOCKERD): absolute, relative
	// to the repo root (build/dockerd-28.5.2/dockerd, which
	// tests/docker/dockerd-modern.sh builds), or a name in PATH. Empty: env,
	// else dockerd in PATH (Debian's 20.10). Another binary than that one
	// gets its own daemon directories: a Dir named here, and DefaultDir,
	// get the suffix "-<its version>" (e.g. /tmp/dl-kill-28.5.2), since a
	// directory serves one dockerd (dockerd.sh refuses another) and a daemon
	// must not be shared with a run against another version. A directory
	// from DL_DOCKER_DIR is used as is.
	Dockerd string
}

// Daemon is a Docker daemon usable by tests.
type Daemon struct {
	host      string
	cli       string
	root      string // repo root
	script    string // tests/docker/dockerd.sh
	dir       string // daemon directory; "" for DL_DOCKER_HOST
	extraArgs string
	dockerd   string // absolute path; "" for dockerd in PATH
	external  bool   // DL_DOCKER_HOST: never started or stopped here
	leased    bool
}

// RepoRoot walks up from the working directory to the directory holding
// go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("dockertest: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Setup returns the shared test daemon: the one named by DL_DOCKER_HOST (used
// as is), else dockerd.sh's private daemon, started if needed, with Image
// built into it. The script's output is printed only on failure.
func Setup() (*Daemon, error) { return SetupConfig(Config{}) }

// SetupConfig is Setup with an explicit daemon directory and dockerd
// arguments.
func SetupConfig(c Config) (*Daemon, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	d := &Daemon{
		cli:    dockerCLI(),
		root:   root,
		script: filepath.Join(root, "tests", "docker", "dockerd.sh"),
	}
	// A daemon of the caller's own directory is never DL_DOCKER_HOST's:
	// the test kills it, or starts it with arguments of its own.
	if h := os.Getenv("DL_DOCKER_HOST"); h != "" && c.Dir == "" {
		d.host, d.external = h, true
		if _, err := d.Docker("version"); err != nil {
			return nil, fmt.Errorf("dockertest: DL_DOCKER_HOST=%s does not answer: %w", h, err)
		}
		if _, err := d.Docker("image", "inspect", "--format", "{{.Id}}", Image); err != nil {
			return nil, fmt.Errorf("dockertest: %s has no image %s (build it with DL_DOCKER_DIR=... %s image): %w",
				h, Image, d.script, err)
		}
		return d, nil
	}

	dockerd := c.Dockerd
	if dockerd == "" {
		dockerd = os.Getenv("DL_DOCKERD")
	}
	var version string
	if d.dockerd, version, err = resolveDockerd(root, dockerd); err != nil {
		return nil, err
	}
	d.dir = daemonDir(c.Dir, os.Getenv("DL_DOCKER_DIR"), version)
	d.extraArgs = c.ExtraArgs
	if d.extraArgs == "" {
		d.extraArgs = os.Getenv("DL_DOCKERD_EXTRA_ARGS")
	}
	if d.extraArgs == "" {
		d.extraArgs = DefaultExtraArgs
	}
	d.host = "unix://" + filepath.Join(d.dir, "docker.sock")
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return nil, err
	}

	unlock, err := d.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()

	running := d.script1("status") == nil
	if !running {
		if err := d.script1("start"); err != nil {
			return nil, err
		}
		// Mark the daemon as started by a Setup, so that the last Teardown
		// stops it.
		if err := d.writeOwner(); err != nil {
			return nil, err
		}
	}
	if err := d.script1("image"); err != nil {
		return nil, err
	}
	if err := d.addLease(); err != nil {
		return nil, err
	}
	return d, nil
}

// Host is the daemon address, e.g. unix:///tmp/docker_logs-dockerd/docker.sock.
func (d *Daemon) Host() string { return d.host }

// Dir is the daemon directory ("" for a DL_DOCKER_HOST daemon).
func (d *Daemon) Dir() string { return d.dir }

// Dockerd is the path of the dockerd binary that dockerd.sh starts: "" for
// the default (dockerd in PATH) and for a DL_DOCKER_HOST daemon.
func (d *Daemon) Dockerd() string { return d.dockerd }

// daemonDir is the daemon directory: dir (Config.Dir), else env
// (DL_DOCKER_DIR, as is), else DefaultDir; dir and DefaultDir with the suffix
// "-"+version for a dockerd other than the default (version not "").
func daemonDir(dir, env, version string) string {
	if dir == "" && env != "" {
		return env
	}
	if dir == "" {
		dir = DefaultDir
	}
	if version != "" {
		dir += "-" + version
	}
	return dir
}

var dockerdVersion = regexp.MustCompile(`version ([0-9A-Za-z.+~-]+)`)

// resolveDockerd returns the absolute path of the dockerd binary name (see
// Config.Dockerd) and its version, e.g. "28.5.2"; both "" for the default.
func resolveDockerd(root, name string) (path, version string, err error) {
	if name == "" {
		return "", "", nil
	}
	if !strings.Contains(name, "/") {
		if name, err = exec.LookPath(name); err != nil {
			return "", "", fmt.Errorf("dockertest: dockerd binary: %w", err)
		}
	} else if !filepath.IsAbs(name) {
		name = filepath.Join(root, name)
	}
	if path, err = filepath.EvalSymlinks(name); err != nil {
		return "", "", fmt.Errorf("dockertest: dockerd binary: %w", err)
	}
	if def, err := exec.LookPath("dockerd"); err == nil {
		if def, err = filepath.EvalSymlinks(def); err == nil && def == path {
			return "", "", nil // the default, named explicitly
		}
	}
	out, err := exec.Command(path, "--version").CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("dockertest: %s --version: %w: %s", path, err, out)
	}
	m := dockerdVersion.FindSubmatch(out)
	if m == nil {
		return "", "", fmt.Errorf("dockertest: %s --version: no version in %q", path, out)
	}
	return path, string(m[1]), nil
}

// Teardown releases this process's use of the daemon and stops the daemon if
// a Setup started it and no other live process still uses it. It is safe to
// call more than once.
func (d *Daemon) Teardown() error {
	if d.external || !d.leased {
		return nil
	}
	unlock, err := d.lock()
	if err != nil {
		return err
	}
	defer unlock()
	d.leased = false
	_ = os.Remove(d.leasePath(os.Getpid()))
	if others := d.liveLeases(); len(others) > 0 {
		return nil
	}
	if !d.ownedBySetup() {
		return nil
	}
	_ = os.Remove(d.ownerPath())
	return d.script1("stop")
}

// Kill SIGKILLs the dockerd (dockerd.sh kill); with live restore (the
// default here) containers keep running. Not available for DL_DOCKER_HOST.
func (d *Daemon) Kill() error {
	if d.external {
		return errors.New("dockertest: Kill needs the dockerd.sh daemon, not DL_DOCKER_HOST")
	}
	return d.script1("kill")
}

// Start starts the daemon again after Kill (dockerd.sh start; a no-op if it
// runs). Not available for DL_DOCKER_HOST.
func (d *Daemon) Start() error {
	if d.external {
		return errors.New("dockertest: Start needs the dockerd.sh daemon, not DL_DOCKER_HOST")
	}
	unlock, err := d.lock()
	if err != nil {
		return err
	}
	defer unlock()
	// After Kill the pidfile still names the killed dockerd, so a daemon that
	// a Setup started stays owned across Kill/Start.
	owned := d.ownedBySetup()
	if err := d.script1("start"); err != nil {
		return err
	}
	if owned {
		return d.writeOwner()
	}
	return nil
}

// Docker runs the docker CLI against the daemon and returns its trimmed
// combined output; the error includes that output.
func (d *Daemon) Docker(args ...string) (string, error) {
	stdout, stderr, err := d.docker(args...)
	out := strings.TrimSpace(stdout + stderr)
	if err != nil {
		return out, fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return out, nil
}

// docker runs the CLI and returns stdout and stderr separately.
func (d *Daemon) docker(args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.cli, append([]string{"-H", d.host}, args...)...)
	cmd.Env = cliEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", CommandTimeout, err)
	}
	return stdout.String(), stderr.String(), err
}

// Run describes a loggen container for Daemon.Run.
type Run struct {
	Name   string            // --name; empty: docker picks one
	TTY    bool              // --tty
	Args   []string          // loggen flags, e.g. {"-n", "3", "-stream", "both"}
	Labels map[string]string // --label k=v
	// Options are extra docker run options placed before the image, e.g.
	// {"--log-opt", "max-size=100k"} or {"--log-driver", "local"}.
	Options []string
	Image   string // default Image
}

var fullID = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Run starts a detached loggen container (docker run -d --network none ...)
// and returns its full ID.
func (d *Daemon) Run(r Run) (string, error) {
	args := []string{"run", "-d", "--network", "none"}
	if r.TTY {
		args = append(args, "--tty")
	}
	if r.Name != "" {
		args = append(args, "--name", r.Name)
	}
	keys := make([]string, 0, len(r.Labels))
	for k := range r.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--label", k+"="+r.Labels[k])
	}
	args = append(args, r.Options...)
	img := r.Image
	if img == "" {
		img = Image
	}
	args = append(args, img)
	args = append(args, r.Args...)
	stdout, stderr, err := d.docker(args...)
	if err != nil {
		return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err,
			strings.TrimSpace(stdout+stderr))
	}
	lines := strings.Fields(stdout) // warnings go to stderr; the ID is stdout's last word
	if len(lines) == 0 || !fullID.MatchString(lines[len(lines)-1]) {
		return "", fmt.Errorf("docker %s: no container ID in output: %q %q",
			strings.Join(args, " "), stdout, stderr)
	}
	return lines[len(lines)-1], nil
}

// WaitExit blocks until the container exits (docker wait) and returns its
// exit code.
func (d *Daemon) WaitExit(id string) (int, error) {
	out, err := d.Docker("wait", id)
	if err != nil {
		return -1, err
	}
	code, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return -1, fmt.Errorf("docker wait %s: unexpected output %q", id, out)
	}
	return code, nil
}

// Wait blocks until the container exits (docker wait); a non-zero exit code
// is an error.
func (d *Daemon) Wait(id string) error {
	code, err := d.WaitExit(id)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("container %.12s exited with code %d", id, code)
	}
	return nil
}

// Logs returns the container's log as docker logs shows it, stdout and
// stderr apart (untrimmed).
func (d *Daemon) Logs(id string, extra ...string) (stdout, stderr string, err error) {
	args := append([]string{"logs"}, extra...)
	args = append(args, id)
	stdout, stderr, err = d.docker(args...)
	if err != nil {
		return stdout, stderr, fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, stderr)
	}
	return stdout, stderr, nil
}

// Remove force-removes containers (docker rm -f -v) and their volumes.
func (d *Daemon) Remove(ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := d.Docker(append([]string{"rm", "-f", "-v"}, ids...)...)
	return err
}

// LiveRestore reports whether the daemon runs with live restore.
func (d *Daemon) LiveRestore() (bool, error) {
	out, err := d.Docker("info", "--format", "{{.LiveRestoreEnabled}}")
	if err != nil {
		return false, err
	}
	return out == "true", nil
}

// --- dockerd.sh --------------------------------------------------------------

// script1 runs dockerd.sh with one subcommand; its output is printed (and
// returned in the error) only on failure.
func (d *Daemon) script1(sub string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", d.script, sub)
	cmd.Dir = d.root
	env := cliEnv()
	env = append(env, "DL_DOCKER_DIR="+d.dir, "DL_DOCKERD_EXTRA_ARGS="+d.extraArgs)
	if d.dockerd != "" {
		env = append(env, "DL_DOCKERD="+d.dockerd)
	}
	if d.cli != "" {
		env = append(env, "DL_DOCKER_CLI="+d.cli)
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		if sub == "status" {
			return err // not running: expected, not worth printing
		}
		fmt.Fprintf(os.Stderr, "dockertest: %s %s failed: %v\n%s\n", d.script, sub, err, out)
		return fmt.Errorf("dockertest: %s %s: %w\n%s", d.script, sub, err, out)
	}
	return nil
}

// cliEnv is the environment for docker and dockerd.sh: without variables that
// would point the CLI elsewhere or conflict with -H.
func cliEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH",
			"DL_DOCKER_DIR", "DL_DOCKERD_EXTRA_ARGS", "DL_DOCKER_CLI", "DL_DOCKERD":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func dockerCLI() string {
	if c := os.Getenv("DL_DOCKER_CLI"); c != "" {
		return c
	}
	if _, err := os.Stat("/usr/bin/docker"); err == nil {
		return "/usr/bin/docker"
	}
	if p, err := exec.LookPath("docker"); err == nil {
		return p
	}
	return "docker"
}

// --- leases: sharing one daemon between test processes ----------------------

func (d *Daemon) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(d.dir, "dockertest.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func (d *Daemon) leaseDir() string         { return filepath.Join(d.dir, "dockertest.leases") }
func (d *Daemon) leasePath(pid int) string { return filepath.Join(d.leaseDir(), strconv.Itoa(pid)) }
func (d *Daemon) ownerPath() string        { return filepath.Join(d.dir, "dockertest.owner") }

func (d *Daemon) addLease() error {
	if err := os.MkdirAll(d.leaseDir(), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(d.leasePath(os.Getpid()), nil, 0o644); err != nil {
		return err
	}
	d.leased = true
	return nil
}

// liveLeases lists the pids of other live processes holding a lease and
// removes stale leases.
func (d *Daemon) liveLeases() []int {
	ents, _ := os.ReadDir(d.leaseDir())
	var live []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pid != os.Getpid() && alive(pid) {
			live = append(live, pid)
			continue
		}
		if pid != os.Getpid() {
			_ = os.Remove(d.leasePath(pid))
		}
	}
	return live
}

// alive: the process exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func (d *Daemon) dockerdPID() string {
	b, err := os.ReadFile(filepath.Join(d.dir, "dockerd.pid"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// writeOwner records that a Setup started the current dockerd (its pid).
func (d *Daemon) writeOwner() error {
	return os.WriteFile(d.ownerPath(), []byte(d.dockerdPID()+"\n"), 0o644)
}

// ownedBySetup: the running dockerd is the one a Setup (or Start) started.
func (d *Daemon) ownedBySetup() bool {
	b, err := os.ReadFile(d.ownerPath())
	if err != nil {
		return false
	}
	pid := strings.TrimSpace(string(b))
	return pid != "" && pid == d.dockerdPID()
}
