package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker-logs/docker_logs/conf"
	"github.com/docker-logs/docker_logs/docker"
)

// Where a container's lines come from: a stream of the Engine API's logs
// endpoint, or its json-file log read from disk (source file or auto). Both
// hand the monitor the same entries (json-file is what the API reads
// itself), so what was delivered, and where a new stream resumes, is
// decided the same way for both (monitor.read, cursor, anchor).

// filePoll is how often a followed json-file log is checked without
// inotify wake-ups; fileBackstop, with them (a write or rotation wakes the
// reader at once; after an overflow of events every reader is woken), so
// that in practice a quiet log is looked at again only when its follow
// ends at stream_idle_timeout, as an API stream is reopened. Checking each
// log every second cost an idle Fluent Bit with 50 quiet containers twice
// the API path's CPU (make bench-idle).
const (
	filePoll     = time.Second
	fileBackstop = time.Minute
)

// lineStream is one opened stream of a container's lines.
type lineStream struct {
	*docker.LogReader
	body io.Closer // the API's response; nil for a file
}

func (s lineStream) Close() {
	if s.body != nil {
		s.body.Close()
	}
	s.LogReader.Close()
}

func (s lineStream) fromFile() bool { return s.body == nil }

// source names where a monitor reads its container's lines from, as
// /health and /metrics show it.
const (
	sourceAPI  = "api"
	sourceFile = "file"
)

// chooseSource decides, at each inspection, where the container's lines
// are read from; logPath is set when it is its json-file log.
func (m *monitor) chooseSource() {
	cfg := &m.e.cfg
	m.logPath = ""
	src, why := sourceAPI, ""
	switch {
	case cfg.Source == conf.SourceAPI:
	case m.info.LogDriver != "json-file":
		why = fmt.Sprintf("its log driver is %s, not json-file", m.info.LogDriver)
	case m.info.LogPath == "" && !m.info.Running && m.info.FinishedAt == 0:
		// Created, never started: json-file makes its log at the start.
	case m.info.LogPath == "":
		why = "the daemon gives no path for its log"
	default:
		path := cfg.LogPath(m.info.LogPath)
		if err := docker.CheckJSONFile(path); err != nil {
			why = err.Error()
			if _, derr := os.Stat(filepath.Dir(filepath.Dir(path))); derr != nil || errors.Is(err, fs.ErrPermission) {
				m.e.noteFilesUnreadable(filepath.Dir(filepath.Dir(m.info.LogPath)), err)
			}
		} else {
			m.logPath, src = path, sourceFile
			dir := filepath.Dir(filepath.Dir(path))
			m.e.containersDir.Store(&dir)
		}
	}
	m.setSource(src, why)
}

// rootDirAPI is a daemon that says where it keeps its containers
// (docker.Client; Podman's data-root holds no json-file logs, and its
// containers are told apart by their log's first entry).
type rootDirAPI interface {
	RootDir(ctx context.Context) (string, error)
}

// learnContainersDir asks the daemon where json-file logs are, so that a
// container's first stream, opened at its start before it is inspected
// again, is read from its file already (guessLogPath).
func (e *Engine) learnContainersDir(ctx context.Context) {
	api, ok := e.api.(rootDirAPI)
	if e.cfg.Source == conf.SourceAPI || !ok || e.containersDir.Load() != nil {
		return
	}
	ictx, cancel := context.WithTimeout(ctx, e.callTimeout)
	defer cancel()
	root, err := api.RootDir(ictx)
	if err != nil || root == "" {
		e.log.Debugf("the daemon did not say where it keeps containers (%v)", err)
		return
	}
	dir := e.cfg.LogPath(filepath.Join(root, "containers"))
	if _, err := os.Stat(dir); err != nil {
		e.noteFilesUnreadable(filepath.Join(root, "containers"), err)
		return
	}
	e.containersDir.Store(&dir)
}

// noteFilesUnreadable says once, under source auto, that json-file logs
// go through the API because the daemon's containers directory (dir, as
// the daemon names it) cannot be read here, and the mount that would let
// them be read from disk: a tenth of the CPU per line (README). Under
// source file each container is warned of instead (setSource).
func (e *Engine) noteFilesUnreadable(dir string, err error) {
	if e.cfg.Source != conf.SourceAuto || !e.filesUnreadableNoted.CompareAndSwap(false, true) {
		return
	}
	if !strings.HasPrefix(e.cfg.DockerHost, "unix://") {
		e.log.Infof("source auto: reading logs through the API: the daemon at %s is not on this host (%v)", docker.HostLabel(e.cfg.DockerHost), err)
		return
	}
	mount := fmt.Sprintf("mount it here read-only (-v %[1]s:%[1]s:ro), or elsewhere with docker_data_root", dir)
	if here := e.cfg.LogPath(dir); here != dir {
		mount = fmt.Sprintf("docker_data_root maps it to %s; mount it there read-only", here)
	}
	e.log.Infof("source auto: reading json-file logs through the API, because the daemon's %s cannot be read here (%v); to read them from disk, at about a tenth of the host's CPU per line, %s", dir, err, mount)
}

// guessLogPath finds the log file of a container that just started, before
// it is inspected again (see monitor.run): json-file keeps it in the
// containers directory the other logs are in, under the container's ID.
func (m *monitor) guessLogPath() {
	dir := m.e.containersDir.Load()
	if m.logPath != "" || m.e.cfg.Source == conf.SourceAPI || dir == nil {
		return
	}
	path := filepath.Join(*dir, m.id, m.id+"-json.log")
	if docker.CheckJSONFile(path) == nil {
		m.logPath = path
		m.setSource(sourceFile, "")
	}
}

// setSource records where the lines come from, and says so when it
// changes: a warning when source file could not be had, else at debug.
func (m *monitor) setSource(src, why string) {
	prev := m.source.Swap(&src)
	if prev != nil && *prev == src {
		return
	}
	switch {
	case src == sourceFile:
		m.e.log.Debugf("container %s: reading its log from %s", m.label(), m.logPath)
	case why == "":
		m.e.log.Debugf("container %s: reading its log through the API", m.label())
	case m.e.cfg.Source == conf.SourceFile:
		m.e.log.Warnf("container %s: its log file cannot be read (%s); reading it through the API", m.label(), why)
	default:
		m.e.log.Debugf("container %s: reading its log through the API (%s)", m.label(), why)
	}
}

// sourceName is where the container's lines come from now.
func (m *monitor) sourceName() string {
	if s := m.source.Load(); s != nil {
		return *s
	}
	return sourceAPI
}

// open opens a stream of the container's lines from the resume point. A
// log file that cannot be opened now is read through the API this time.
func (m *monitor) open(ctx context.Context, mode readMode) (lineStream, int, error) {
	if m.logPath != "" {
		lr, err := m.openFile(ctx, mode)
		if err == nil {
			return lineStream{LogReader: lr}, 0, nil
		}
		m.logPath = ""
		m.setSource(sourceAPI, err.Error())
	}
	return m.openAPI(ctx, mode)
}

// openFile opens the container's json-file log at the anchor's place in
// it, or else from the resume point's time.
func (m *monitor) openFile(ctx context.Context, mode readMode) (*docker.LogReader, error) {
	since, _ := m.resumePoint()
	if !m.anchor.valid && m.oldestCursor() > 0 {
		since = max(m.oldestCursor()-resumeMargin, 1)
	}
	o := docker.JSONFileOptions{
		Path: m.logPath, TTY: m.info.TTY, MaxLine: int(m.e.cfg.MaxLineSize),
		At: m.anchor.pos, Since: since, Follow: mode == readFollow,
		Poll: filePoll, Idle: m.e.cfg.StreamIdleTimeout, Stop: m.wakeup,
		Bad: func(pos docker.FilePos, err error) {
			m.e.log.Warnf("container %s: %s at byte %d: %v; skipped", m.label(), m.logPath, pos.Offset, err)
		},
	}
	if o.Follow {
		if m.notify == nil {
			var err error
			if m.notify, m.unwatch, err = m.e.files.watch(filepath.Dir(m.logPath)); err != nil {
				m.e.log.Debugf("container %s: %v; checking its log every %s", m.label(), err, filePoll)
			}
		}
		o.Notify = m.notify
		if o.Notify != nil {
			o.Poll = fileBackstop
		}
	}
	return docker.OpenJSONFile(ctx, o)
}

// stopWatching ends the monitor's inotify wake-ups.
func (m *monitor) stopWatching() {
	if m.unwatch != nil {
		m.unwatch()
		m.notify, m.unwatch = nil, nil
	}
}

// openAPI opens a logs stream through the Engine API, with its tail bound.
func (m *monitor) openAPI(ctx context.Context, mode readMode) (lineStream, int, error) {
	follow := mode == readFollow
	since, tail := m.resumePoint()
	if mode == readCatchUp {
		tail = 0 // a rotating log is small; a tail bound missed is a reopen more, while it rotates
	}
	sctx, cancel := context.WithCancel(ctx)
	// Docker answers at once with headers; bound the wait all the same.
	// Podman answers a follow only with its first line: on a container
	// with nothing to send, the wait ends like an idle stream (errQuiet).
	wait := m.e.callTimeout
	if idle := m.e.cfg.StreamIdleTimeout; follow && idle > 0 {
		wait = min(wait, idle)
	}
	asked := time.Now()
	noHeaders := time.AfterFunc(wait, cancel)
	body, err := m.e.api.Logs(sctx, m.id, docker.LogsOptions{Since: since, Follow: follow, Tail: tail})
	expired := !noHeaders.Stop()
	// The connection's idle deadline may also end the wait first.
	if !expired && follow && err != nil && (docker.IsTimeout(err) || docker.IsConnectionFailed(err)) && time.Since(asked) >= wait {
		expired = true
	}
	if expired && ctx.Err() == nil {
		if err == nil {
			body.Close()
		}
		cancel()
		if follow {
			return lineStream{}, 0, errQuiet
		}
		return lineStream{}, 0, fmt.Errorf("no response to the logs request within %s", wait)
	}
	if err != nil {
		cancel()
		return lineStream{}, 0, err
	}
	lr := docker.NewLogReader(body, m.info.TTY, int(m.e.cfg.MaxLineSize))
	return lineStream{LogReader: lr, body: cancelCloser{body, cancel}}, tail, nil
}

// cancelCloser closes a response body and cancels its request's context.
type cancelCloser struct {
	io.Closer
	cancel context.CancelFunc
}

func (c cancelCloser) Close() error {
	err := c.Closer.Close()
	c.cancel()
	return err
}

// isFileEnd reports a file stream's end that calls for a reopen at once.
func isFileEnd(err error) bool { return errors.Is(err, docker.ErrLostRotation) }
