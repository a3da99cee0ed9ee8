// Package faultserver is a fake Docker Engine API on a unix socket, for the
// faults a real daemon will not produce on demand: silent streams, frames
// stalled or cut in the middle, malformed or huge frame headers, HTTP errors,
// streams trickling one byte at a time.
//
// Typical use:
//
//	s := faultserver.Start(t)
//	s.AddContainer(faultserver.Container{ID: id, Name: "web", Image: "busybox", Running: true})
//	s.SetLogs(id, faultserver.LogScript{
//		{Fault: faultserver.FaultSilence},       // first logs request: 200, then nothing
//		{Lines: lines},                          // second and later: the lines
//	})
//	plugin := docker.New(docker.Options{Host: s.Host()})
//
// The server speaks API 1.41 (like Docker 20.10) unless SetAPIVersion says
// otherwise, and accepts any /vX.Y/ prefix up to that version. Every handler
// that stalls returns as soon as the client goes away or Close is called;
// Close (run by t.Cleanup) waits for every handler and connection goroutine.
package faultserver

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// DefaultAPIVersion is the version /_ping reports unless SetAPIVersion
// changes it.
const DefaultAPIVersion = "1.41"

// DefaultTrickleInterval is the delay between bytes of FaultTrickle when
// Step.TrickleInterval is 0.
const DefaultTrickleInterval = time.Second

// TimestampLayout is the prefix dockerd puts before each payload with
// timestamps=1 (followed by one space): always 9 fraction digits, UTC.
const TimestampLayout = "2006-01-02T15:04:05.000000000Z07:00"

// eventHistory is how many past events /events?since= can replay (dockerd
// keeps 256).
const eventHistory = 256

// Container is a container the fake daemon knows.
type Container struct {
	ID      string // 64 hex digits
	Name    string // without the leading "/"
	Image   string
	TTY     bool
	Running bool
	Labels  map[string]string
	// Created, StartedAt, FinishedAt are reported by list and inspect;
	// a zero Created becomes the time of AddContainer, a zero StartedAt of
	// a running container too.
	Created    time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	ExitCode   int
}

// Line is one log entry.
type Line struct {
	Stream int // 1 stdout, 2 stderr (0 counts as stdout)
	Time   time.Time
	Text   string // the payload, including "\n" if wanted
}

// Fault is what a logs request does.
type Fault int

const (
	// FaultNone serves the Lines (filtered by since, until, tail and the
	// streams asked for), then: with follow=1 on a running container it
	// keeps the response open until the container stops (SetRunning false,
	// RemoveContainer), the client goes away or Close; otherwise EOF.
	FaultNone Fault = iota
	// FaultSilence sends 200 and the headers, then nothing until the client
	// goes away or Close.
	FaultSilence
	// FaultStallMidFrame sends the first frame's header and half its
	// payload (TTY: half the raw entry), then stalls.
	FaultStallMidFrame
	// FaultMalformedHeader sends a frame whose header has stream type 7 and
	// nonzero padding ([7 1 2 3 len]) followed by its payload, then EOF.
	FaultMalformedHeader
	// FaultHugeFrame sends a header declaring 0x7fffffff payload bytes
	// (stream stdout), then the first entry's bytes, then stalls.
	FaultHugeFrame
	// FaultCutFrame sends the first frame's header and half its payload
	// (TTY: half the raw entry), then ends the response cleanly (EOF).
	FaultCutFrame
	// FaultHTTPStatus replies Status (default 500) with dockerd's JSON
	// error body {"message": Message}.
	FaultHTTPStatus
	// FaultTrickle serves what FaultNone would, one byte per
	// TrickleInterval (default 1s), then ends like FaultNone.
	FaultTrickle
	// FaultDaemonError sends a type-3 frame (daemon error text, Message),
	// then EOF, as dockerd does when the log reader fails mid-stream.
	FaultDaemonError
)

var faultNames = [...]string{"none", "silence", "stall-mid-frame", "malformed-header", "huge-frame", "cut-frame", "http-status", "trickle", "daemon-error"}

func (f Fault) String() string {
	if f >= 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return "fault(" + strconv.Itoa(int(f)) + ")"
}

// Step is what one logs request gets.
type Step struct {
	Fault Fault
	// Lines are the entries to serve, filtered as dockerd does: tail first
	// (last N entries across both streams), then the streams asked for,
	// then since and until (both inclusive, to the nanosecond). Non-TTY
	// containers get one frame per entry; TTY containers the raw bytes.
	Lines []Line
	// Good: for the frame faults (StallMidFrame, MalformedHeader,
	// HugeFrame, CutFrame, DaemonError), how many of the filtered entries
	// are served intact before the faulty frame, which is built from the
	// next entry (or a placeholder entry if none is left).
	Good int
	// Status is the HTTP status of FaultHTTPStatus (default 500).
	Status int
	// Message is the error text of FaultHTTPStatus and FaultDaemonError
	// (default: dockerd's text for the status).
	Message string
	// TrickleInterval is FaultTrickle's delay between bytes (default 1s).
	TrickleInterval time.Duration
}

// LogScript decides what successive logs requests for a container get:
// request n gets step n (1-based); after the last step, the last repeats.
// An empty script serves no lines (FaultNone).
type LogScript []Step

// placeholder is the entry faulty frames are built from when a step has no
// entry left for them.
var placeholder = Line{Stream: 1, Time: time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC), Text: "faultserver placeholder entry\n"}

// Server is the fake daemon.
type Server struct {
	path      string
	tmpDir    string // removed on Close when the socket could not live in t.TempDir
	ln        net.Listener
	srv       *http.Server
	done      chan struct{} // closed by Close: every stalled handler returns
	serveDone chan struct{}
	closeOnce sync.Once
	handlers  sync.WaitGroup
	conns     sync.WaitGroup
	active    atomic.Int64 // handlers running

	mu         sync.Mutex
	closed     bool
	apiVersion string
	containers map[string]*container
	scripts    map[string]LogScript
	logReqs    map[string]int // logs requests per container ID (for the script)
	requests   []request
	subs       map[*subscriber]struct{}
	history    []eventMessage
}

type container struct {
	Container
	stopped chan struct{} // closed when a running container stops or is removed
}

type request struct {
	path  string // version prefix stripped
	query url.Values
}

// Start starts a Server on a unix socket in t.TempDir (or a shorter
// temporary directory if that path is too long for a socket); t.Cleanup
// closes it.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start(t.TempDir())
	if err != nil {
		t.Fatalf("faultserver: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func start(dir string) (*Server, error) {
	s := &Server{
		done:       make(chan struct{}),
		serveDone:  make(chan struct{}),
		apiVersion: DefaultAPIVersion,
		containers: map[string]*container{},
		scripts:    map[string]LogScript{},
		logReqs:    map[string]int{},
		subs:       map[*subscriber]struct{}{},
	}
	s.path = filepath.Join(dir, "docker.sock")
	if len(s.path) > 100 { // sun_path is 108 bytes on Linux, 104 elsewhere
		d, err := os.MkdirTemp("", "faultserver")
		if err != nil {
			return nil, err
		}
		s.tmpDir, s.path = d, filepath.Join(d, "docker.sock")
	}
	ln, err := net.Listen("unix", s.path)
	if err != nil {
		if s.tmpDir != "" {
			os.RemoveAll(s.tmpDir)
		}
		return nil, err
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:  s,
		ErrorLog: log.New(io.Discard, "", 0),
		// The hook for StateNew runs in the Serve goroutine before the
		// connection's goroutine starts, so once Serve has returned no Add
		// can race with Close's Wait.
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				s.conns.Add(1)
			case http.StateHijacked, http.StateClosed:
				s.conns.Done()
			}
		},
	}
	go func() {
		defer close(s.serveDone)
		s.srv.Serve(ln)
	}()
	return s, nil
}

// Host is the address to give the client: "unix:///.../docker.sock".
func (s *Server) Host() string { return "unix://" + s.path }

// Close stops the server: it closes the listener and every connection,
// unblocks every stalled handler and waits for all handler and connection
// goroutines. It is idempotent and safe to call concurrently.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.done)
		s.srv.Close()
		<-s.serveDone
		s.handlers.Wait()
		s.conns.Wait()
		if s.tmpDir != "" {
			os.RemoveAll(s.tmpDir)
		}
	})
}

// SetAPIVersion sets the version /_ping reports and the highest /vX.Y/
// prefix accepted (default 1.41).
func (s *Server) SetAPIVersion(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiVersion = v
}

// AddContainer adds c, or replaces the container with the same ID (a running
// container replaced by a stopped one ends its follow streams, as a stop
// does).
func (s *Server) AddContainer(c Container) {
	now := time.Now().UTC()
	if c.Created.IsZero() {
		c.Created = now
	}
	if c.Running && c.StartedAt.IsZero() {
		c.StartedAt = now
	}
	c.Name = strings.TrimPrefix(c.Name, "/")
	c.Labels = cloneMap(c.Labels)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.containers[c.ID]
	nc := &container{Container: c, stopped: make(chan struct{})}
	if old != nil && old.Running && c.Running {
		nc.stopped = old.stopped
	} else if old != nil && old.Running {
		close(old.stopped)
	}
	s.containers[c.ID] = nc
}

// SetRunning starts or stops a known container: a stop ends its follow
// streams with a clean EOF (as dockerd does) and sets FinishedAt; a start
// sets StartedAt.
func (s *Server) SetRunning(id string, running bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.containers[id]
	if c == nil || c.Running == running {
		return
	}
	c.Running = running
	if running {
		c.StartedAt = time.Now().UTC()
		c.stopped = make(chan struct{})
	} else {
		c.FinishedAt = time.Now().UTC()
		close(c.stopped)
	}
}

// RemoveContainer forgets a container (its follow streams end; further
// requests get 404).
func (s *Server) RemoveContainer(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.containers[id]; c != nil {
		if c.Running {
			close(c.stopped)
		}
		delete(s.containers, id)
	}
}

// SetLogs sets the script for a container's logs requests and restarts its
// numbering: the next logs request gets the first step.
func (s *Server) SetLogs(id string, script LogScript) {
	cp := make(LogScript, len(script))
	for i, st := range script {
		st.Lines = append([]Line(nil), st.Lines...)
		cp[i] = st
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scripts[id] = cp
	s.logReqs[id] = 0
}

// Requests counts the requests whose path (without the /vX.Y prefix or the
// query) begins with path, such as "/containers/ID/logs" or "/_ping".
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if strings.HasPrefix(r.path, path) {
			n++
		}
	}
	return n
}

// Queries returns the query parameters of each request whose path begins
// with path, oldest first (e.g. to check the since a client resumed from).
func (s *Server) Queries(path string) []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []url.Values
	for _, r := range s.requests {
		if strings.HasPrefix(r.path, path) {
			out = append(out, r.query)
		}
	}
	return out
}

// ActiveHandlers is how many requests are being handled right now (a
// stalled stream counts until the client goes away).
func (s *Server) ActiveHandlers() int { return int(s.active.Load()) }

// EventSubscribers is how many /events streams are open.
func (s *Server) EventSubscribers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, version := stripVersion(r.URL.Path)
	s.mu.Lock()
	s.requests = append(s.requests, request{path: p, query: r.URL.Query()})
	if s.closed {
		s.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "faultserver closed")
		return
	}
	s.handlers.Add(1)
	maxVersion := s.apiVersion
	s.mu.Unlock()
	s.active.Add(1)
	defer func() {
		s.active.Add(-1)
		s.handlers.Done()
	}()

	if version != "" && compareVersions(version, maxVersion) > 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("client version %s is too new. Maximum supported API version is %s", version, maxVersion))
		return
	}
	get := r.Method == http.MethodGet
	switch {
	case p == "/_ping" && (get || r.Method == http.MethodHead):
		s.ping(w, r)
	case p == "/containers/json" && get:
		s.list(w, r)
	case p == "/events" && get:
		s.events(w, r)
	case strings.HasPrefix(p, "/containers/") && get:
		ref, sub, _ := strings.Cut(strings.TrimPrefix(p, "/containers/"), "/")
		if sub != "json" && sub != "logs" {
			writeError(w, http.StatusNotFound, "page not found")
			return
		}
		c, ok := s.lookup(ref)
		if !ok {
			writeError(w, http.StatusNotFound, "No such container: "+ref)
			return
		}
		if sub == "json" {
			writeJSON(w, http.StatusOK, inspectJSON(c))
		} else {
			s.logs(w, r, c)
		}
	default:
		writeError(w, http.StatusNotFound, "page not found")
	}
}

var versionPrefix = regexp.MustCompile(`^/v([0-9]+\.[0-9]+)(/|$)`)

func stripVersion(p string) (rest, version string) {
	m := versionPrefix.FindStringSubmatch(p)
	if m == nil {
		return p, ""
	}
	rest = p[len(m[0])-len(m[2]):]
	if rest == "" {
		rest = "/"
	}
	return rest, m[1]
}

func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// lookup finds a container by full ID, name, or unique ID prefix, and
// returns a snapshot of it with the channel that closes when it stops.
func (s *Server) lookup(ref string) (container, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.containers[ref]; ok {
		return *c, true
	}
	name := strings.TrimPrefix(ref, "/")
	var found *container
	for _, c := range s.containers {
		if c.Name == name {
			return *c, true
		}
		if ref != "" && strings.HasPrefix(c.ID, ref) {
			if found != nil {
				return container{}, false
			}
			found = c
		}
	}
	if found == nil {
		return container{}, false
	}
	return *found, true
}

func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	v := s.apiVersion
	s.mu.Unlock()
	h := w.Header()
	h.Set("API-Version", v)
	h.Set("Docker-Experimental", "false")
	h.Set("OSType", "linux")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", "2")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		io.WriteString(w, "OK")
	}
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	all := boolValue(r.URL.Query().Get("all"))
	s.mu.Lock()
	cs := make([]Container, 0, len(s.containers))
	for _, c := range s.containers {
		if all || c.Running {
			cs = append(cs, c.Container)
		}
	}
	s.mu.Unlock()
	sort.Slice(cs, func(i, j int) bool { // dockerd lists newest first
		if !cs[i].Created.Equal(cs[j].Created) {
			return cs[i].Created.After(cs[j].Created)
		}
		return cs[i].ID < cs[j].ID
	})
	out := make([]map[string]any, 0, len(cs))
	for _, c := range cs {
		out = append(out, map[string]any{
			"Id":      c.ID,
			"Names":   []string{"/" + c.Name},
			"Image":   c.Image,
			"ImageID": "sha256:" + strings.Repeat("0", 64),
			"Command": "",
			"Created": c.Created.Unix(),
			"Ports":   []any{},
			"Labels":  labels(c.Labels),
			"State":   state(c),
			"Status":  status(c),
			"Mounts":  []any{},
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func state(c Container) string {
	switch {
	case c.Running:
		return "running"
	case c.StartedAt.IsZero():
		return "created"
	}
	return "exited"
}

func status(c Container) string {
	switch state(c) {
	case "running":
		return "Up"
	case "created":
		return "Created"
	}
	return fmt.Sprintf("Exited (%d)", c.ExitCode)
}

func labels(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// apiTime formats a time as the API does; the zero time is
// "0001-01-01T00:00:00Z".
func apiTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func inspectJSON(c container) map[string]any {
	return map[string]any{
		"Id":      c.ID,
		"Created": apiTime(c.Created),
		"Path":    "/bin/sh",
		"Args":    []string{},
		"State": map[string]any{
			"Status":     state(c.Container),
			"Running":    c.Running,
			"Paused":     false,
			"Restarting": false,
			"OOMKilled":  false,
			"Dead":       false,
			"Pid":        map[bool]int{true: 4242}[c.Running],
			"ExitCode":   c.ExitCode,
			"Error":      "",
			"StartedAt":  apiTime(c.StartedAt),
			"FinishedAt": apiTime(c.FinishedAt),
		},
		"Image":        "sha256:" + strings.Repeat("0", 64),
		"Name":         "/" + c.Name,
		"RestartCount": 0,
		"Driver":       "overlay2",
		"Platform":     "linux",
		"HostConfig":   map[string]any{"LogConfig": map[string]any{"Type": "json-file", "Config": map[string]string{}}},
		"Config": map[string]any{
			"Hostname": c.ID[:min(12, len(c.ID))],
			"Image":    c.Image,
			"Tty":      c.TTY,
			"Labels":   labels(c.Labels),
		},
	}
}

// ---- logs ----

func (s *Server) nextStep(id string) Step {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.logReqs[id]
	s.logReqs[id] = n + 1
	sc := s.scripts[id]
	if len(sc) == 0 {
		return Step{}
	}
	return sc[min(n, len(sc)-1)]
}

func (s *Server) logs(w http.ResponseWriter, r *http.Request, c container) {
	step := s.nextStep(c.ID)
	q := r.URL.Query()
	stdout, stderr := boolValue(q.Get("stdout")), boolValue(q.Get("stderr"))
	if !stdout && !stderr {
		writeError(w, http.StatusBadRequest, "Bad parameters: you must choose at least one stream")
		return
	}
	since, err := parseUnix(q.Get("since"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	until, err := parseUnix(q.Get("until"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	tail := -1
	if v := q.Get("tail"); v != "" && v != "all" {
		if n, err := strconv.Atoi(v); err == nil {
			tail = n
		}
	}
	follow := boolValue(q.Get("follow")) && c.Running
	ts := boolValue(q.Get("timestamps"))

	if step.Fault == FaultHTTPStatus {
		code := step.Status
		if code == 0 {
			code = http.StatusInternalServerError
		}
		msg := step.Message
		if msg == "" {
			msg = defaultMessage(code, c.ID)
		}
		writeError(w, code, msg)
		return
	}

	lines := filterLines(step.Lines, tail, stdout, stderr, since, until)
	enc := func(l Line) []byte { return encode(l, c.TTY, ts) }

	// Like dockerd 20.10: no Content-Type (API 1.41 has none to tell TTY
	// from multiplexed), headers flushed before the first byte. Setting the
	// header to nil stops net/http from sniffing one.
	w.Header()["Content-Type"] = nil
	w.WriteHeader(http.StatusOK)
	flush(w)

	good := min(max(step.Good, 0), len(lines))
	bad := placeholder
	if good < len(lines) {
		bad = lines[good]
	}
	writeGood := func() bool {
		var b bytes.Buffer
		for _, l := range lines[:good] {
			b.Write(enc(l))
		}
		return write(w, b.Bytes())
	}

	switch step.Fault {
	case FaultNone:
		var b bytes.Buffer
		for _, l := range lines {
			b.Write(enc(l))
		}
		if !write(w, b.Bytes()) {
			return
		}
		if follow {
			s.wait(r, c.stopped)
		}
	case FaultSilence:
		s.wait(r, nil)
	case FaultStallMidFrame, FaultCutFrame:
		if !writeGood() {
			return
		}
		f := enc(bad)
		cut := len(f) / 2
		if !c.TTY {
			cut = 8 + (len(f)-8)/2
		}
		if !write(w, f[:cut]) {
			return
		}
		if step.Fault == FaultStallMidFrame {
			s.wait(r, nil)
		}
	case FaultMalformedHeader:
		if !writeGood() {
			return
		}
		p := payload(bad, ts)
		h := []byte{7, 1, 2, 3, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(h[4:], uint32(len(p)))
		write(w, append(h, p...))
	case FaultHugeFrame:
		if !writeGood() {
			return
		}
		h := []byte{1, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff}
		if !write(w, append(h, payload(bad, ts)...)) {
			return
		}
		s.wait(r, nil)
	case FaultDaemonError:
		if !writeGood() {
			return
		}
		msg := step.Message
		if msg == "" {
			msg = "error from daemon in stream: Error grabbing logs: log message is too large"
		}
		write(w, Frame(3, []byte(msg)))
	case FaultTrickle:
		var b bytes.Buffer
		for _, l := range lines {
			b.Write(enc(l))
		}
		iv := step.TrickleInterval
		if iv <= 0 {
			iv = DefaultTrickleInterval
		}
		t := time.NewTimer(iv)
		defer t.Stop()
		for i, ch := range b.Bytes() {
			if i > 0 {
				t.Reset(iv)
				select {
				case <-t.C:
				case <-r.Context().Done():
					return
				case <-s.done:
					return
				}
			}
			if !write(w, []byte{ch}) {
				return
			}
		}
		if follow {
			s.wait(r, c.stopped)
		}
	default:
		s.wait(r, nil)
	}
}

// wait blocks until the client goes away, Close, or stop (if not nil) is
// closed.
func (s *Server) wait(r *http.Request, stop <-chan struct{}) {
	select {
	case <-r.Context().Done():
	case <-s.done:
	case <-stop:
	}
}

func defaultMessage(code int, id string) string {
	switch code {
	case http.StatusNotFound:
		return "No such container: " + id
	case http.StatusConflict:
		return "can not get logs from container which is dead or marked for removal"
	case http.StatusNotImplemented:
		return `configured logging driver does not support reading`
	case http.StatusBadRequest:
		return "Bad parameters"
	}
	return http.StatusText(code)
}

// filterLines applies tail (last n entries of all streams; n < 0 all), then
// the streams asked for, then since and until (inclusive; zero: unbounded).
func filterLines(lines []Line, tail int, stdout, stderr bool, since, until time.Time) []Line {
	if tail >= 0 && tail < len(lines) {
		lines = lines[len(lines)-tail:]
	}
	var out []Line
	for _, l := range lines {
		if l.Stream == 2 && !stderr || l.Stream != 2 && !stdout {
			continue
		}
		if !since.IsZero() && l.Time.Before(since) || !until.IsZero() && l.Time.After(until) {
			continue
		}
		out = append(out, l)
	}
	return out
}

// Timestamp is the prefix of an entry's payload with timestamps=1, without
// its trailing space.
func Timestamp(t time.Time) string { return t.UTC().Format(TimestampLayout) }

func payload(l Line, ts bool) []byte {
	if !ts {
		return []byte(l.Text)
	}
	return []byte(Timestamp(l.Time) + " " + l.Text)
}

// Frame returns the multiplexed frame of a payload: [stream 0 0 0 len] then
// the payload.
func Frame(stream byte, p []byte) []byte {
	b := make([]byte, 8, 8+len(p))
	b[0] = stream
	binary.BigEndian.PutUint32(b[4:], uint32(len(p)))
	return append(b, p...)
}

// Encode returns the bytes a logs response carries for l: a frame for a
// non-TTY container, the raw payload for a TTY one.
func Encode(l Line, tty, timestamps bool) []byte { return encode(l, tty, timestamps) }

func encode(l Line, tty, ts bool) []byte {
	p := payload(l, ts)
	if tty {
		return p
	}
	st := byte(1)
	if l.Stream == 2 {
		st = 2
	}
	return Frame(st, p)
}

// parseUnix reads the API's "sec[.nnnnnnnnn]"; "" and "0" are unbounded.
func parseUnix(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	secS, fracS, _ := strings.Cut(v, ".")
	sec, err := strconv.ParseInt(secS, 10, 64)
	if err != nil || len(fracS) > 9 {
		return time.Time{}, fmt.Errorf("invalid timestamp %q", v)
	}
	var ns int64
	if fracS != "" {
		ns, err = strconv.ParseInt(fracS+strings.Repeat("0", 9-len(fracS)), 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("invalid timestamp %q", v)
		}
	}
	if sec == 0 && ns == 0 {
		return time.Time{}, nil
	}
	return time.Unix(sec, ns), nil
}

// boolValue is dockerd's httputils.BoolValue.
func boolValue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// write writes and flushes b; false if the client is gone.
func write(w http.ResponseWriter, b []byte) bool {
	if len(b) > 0 {
		if _, err := w.Write(b); err != nil {
			return false
		}
	}
	return http.NewResponseController(w).Flush() == nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// writeError writes dockerd's error response: {"message": "..."}.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"message": msg})
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// ---- events ----

type eventActor struct {
	ID         string            `json:"ID"`
	Attributes map[string]string `json:"Attributes"`
}

type eventMessage struct {
	Status   string     `json:"status,omitempty"`
	ID       string     `json:"id,omitempty"`
	From     string     `json:"from,omitempty"`
	Type     string     `json:"Type"`
	Action   string     `json:"Action"`
	Actor    eventActor `json:"Actor"`
	Scope    string     `json:"scope"`
	Time     int64      `json:"time"`
	TimeNano int64      `json:"timeNano"`
}

type subscriber struct{ ch chan eventMessage }

// Emit sends a container event to every open /events stream (and keeps it
// for replay with since), as dockerd would: Actor.Attributes carry the
// container's labels, name and image ("die" adds exitCode).
func (s *Server) Emit(action, id string) { s.EmitWith(action, id, nil) }

// EmitWith is Emit with extra or overriding attributes (e.g. "oldName" for
// rename).
func (s *Server) EmitWith(action, id string, attrs map[string]string) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	a := map[string]string{}
	image := ""
	if c := s.containers[id]; c != nil {
		for k, v := range c.Labels {
			a[k] = v
		}
		a["name"], a["image"] = c.Name, c.Image
		image = c.Image
		if action == "die" {
			a["exitCode"] = strconv.Itoa(c.ExitCode)
		}
	} else if action == "die" {
		a["exitCode"] = "0"
	}
	for k, v := range attrs {
		a[k] = v
	}
	if len(s.history) > 0 { // keep timeNano strictly increasing
		if last := s.history[len(s.history)-1].TimeNano; now.UnixNano() <= last {
			now = time.Unix(0, last+1)
		}
	}
	m := eventMessage{
		Status: action, ID: id, From: image,
		Type: "container", Action: action,
		Actor: eventActor{ID: id, Attributes: a},
		Scope: "local", Time: now.Unix(), TimeNano: now.UnixNano(),
	}
	s.history = append(s.history, m)
	if len(s.history) > eventHistory {
		s.history = s.history[len(s.history)-eventHistory:]
	}
	for sub := range s.subs {
		select {
		case sub.ch <- m:
		default: // a subscriber too slow loses events, as with dockerd
		}
	}
}

// eventFilter is the filters query parameter: term -> accepted values.
type eventFilter map[string][]string

func parseFilters(v string) (eventFilter, error) {
	f := eventFilter{}
	if v == "" {
		return f, nil
	}
	var m map[string]map[string]bool
	if err := json.Unmarshal([]byte(v), &m); err == nil {
		for k, vals := range m {
			for val, ok := range vals {
				if ok {
					f[k] = append(f[k], val)
				}
			}
		}
		return f, nil
	}
	var legacy map[string][]string
	if err := json.Unmarshal([]byte(v), &legacy); err != nil {
		return nil, fmt.Errorf("invalid filter %q", v)
	}
	return legacy, nil
}

func (f eventFilter) match(m eventMessage) bool {
	in := func(term string, vals ...string) bool {
		acc, ok := f[term]
		if !ok || len(acc) == 0 {
			return true
		}
		for _, a := range acc {
			for _, v := range vals {
				if v != "" && (a == v || term == "container" && len(a) >= 12 && strings.HasPrefix(v, a)) {
					return true
				}
			}
		}
		return false
	}
	return in("type", m.Type) && in("event", m.Action) &&
		in("container", m.Actor.ID, m.Actor.Attributes["name"]) && in("image", m.Actor.Attributes["image"])
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, err := parseUnix(q.Get("since"))
	if err == nil {
		var until time.Time
		if until, err = parseUnix(q.Get("until")); err == nil {
			var f eventFilter
			if f, err = parseFilters(q.Get("filters")); err == nil {
				s.streamEvents(w, r, since, until, f)
				return
			}
		}
	}
	writeError(w, http.StatusBadRequest, err.Error())
}

func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request, since, until time.Time, f eventFilter) {
	sub := &subscriber{ch: make(chan eventMessage, 1024)}
	var replay []eventMessage
	s.mu.Lock()
	if !since.IsZero() {
		for _, m := range s.history {
			if m.TimeNano >= since.UnixNano() {
				replay = append(replay, m)
			}
		}
	}
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, sub)
		s.mu.Unlock()
	}()

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flush(w)
	enc := func(m eventMessage) bool {
		if !f.match(m) {
			return true
		}
		b, _ := json.Marshal(m)
		return write(w, append(b, '\n'))
	}
	past := func(m eventMessage) bool { return !until.IsZero() && m.TimeNano > until.UnixNano() }
	for _, m := range replay {
		if past(m) {
			return
		}
		if !enc(m) {
			return
		}
	}
	var deadline <-chan time.Time
	if !until.IsZero() {
		d := time.Until(until)
		if d <= 0 {
			return
		}
		t := time.NewTimer(d)
		defer t.Stop()
		deadline = t.C
	}
	for {
		select {
		case m := <-sub.ch:
			if past(m) {
				return
			}
			if !enc(m) {
				return
			}
		case <-deadline:
			return
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
	}
}
