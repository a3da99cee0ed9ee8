package faultserver_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"go.uber.org/goleak"

	fs "github.com/docker-logs/docker_logs/tests/internal/faultserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	idWeb = strings.Repeat("ab", 32)
	idTTY = strings.Repeat("cd", 32)
	base  = time.Date(2024, 5, 6, 7, 8, 9, 100, time.UTC)
)

// start starts a server and checks, after every other cleanup (server and
// clients closed), that no goroutine is left.
func start(t *testing.T) *fs.Server {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	s := fs.Start(t)
	s.AddContainer(fs.Container{ID: idWeb, Name: "web", Image: "busybox:1", Running: true, Labels: map[string]string{"app": "web"}})
	s.AddContainer(fs.Container{ID: idTTY, Name: "tty", Image: "alpine", TTY: true, Running: false, StartedAt: base, FinishedAt: base.Add(time.Minute), ExitCode: 3})
	return s
}

func newClient(t *testing.T, s *fs.Server) *client.Client {
	t.Helper()
	c, err := client.New(client.WithHost(s.Host()), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func rawClient(t *testing.T, s *fs.Server) *http.Client {
	sock := strings.TrimPrefix(s.Host(), "unix://")
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// lines makes n entries 1ns apart from base, alternating stdout and stderr.
func lines(n int) []fs.Line {
	out := make([]fs.Line, n)
	for i := range out {
		out[i] = fs.Line{Stream: 1 + i%2, Time: base.Add(time.Duration(i)), Text: fmt.Sprintf("line %d\n", i)}
	}
	return out
}

func framed(ls ...fs.Line) []byte {
	var b []byte
	for _, l := range ls {
		b = append(b, fs.Encode(l, false, true)...)
	}
	return b
}

type frame struct {
	stream byte
	size   int    // declared
	data   string // received
}

// parseFrames splits a multiplexed body; the last frame may be cut.
func parseFrames(b []byte) (out []frame) {
	for len(b) > 0 {
		if len(b) < 8 {
			return append(out, frame{stream: 255, data: string(b)})
		}
		n := int(binary.BigEndian.Uint32(b[4:8]))
		f := frame{stream: b[0], size: n}
		b = b[8:]
		k := min(n, len(b))
		f.data, b = string(b[:k]), b[k:]
		out = append(out, f)
	}
	return out
}

func logs(t *testing.T, c *client.Client, ctx context.Context, id string, o client.ContainerLogsOptions) io.ReadCloser {
	t.Helper()
	o.ShowStdout, o.ShowStderr, o.Timestamps = true, true, true
	rc, err := c.ContainerLogs(ctx, id, o)
	if err != nil {
		t.Fatalf("ContainerLogs: %v", err)
	}
	t.Cleanup(func() { rc.Close() })
	return rc
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// deadlineAbort reports a read ended by its context's deadline. The
// transport returns context.DeadlineExceeded, but moby/client also closes
// the body from a context.AfterFunc, and when that close wins the race the
// read fails with net.ErrClosed ("use of closed network connection").
func deadlineAbort(ctx context.Context, err error) bool {
	return errors.Is(ctx.Err(), context.DeadlineExceeded) &&
		(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, net.ErrClosed))
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestPing(t *testing.T) {
	s := start(t)
	c := newClient(t, s)
	p, err := c.Ping(context.Background(), client.PingOptions{NegotiateAPIVersion: true, ForceNegotiate: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.APIVersion != "1.41" || p.OSType != "linux" || p.Experimental || c.ClientVersion() != "1.41" {
		t.Fatalf("ping %+v, negotiated %s", p, c.ClientVersion())
	}
	hc := rawClient(t, s)
	for _, method := range []string{http.MethodHead, http.MethodGet} {
		req, _ := http.NewRequest(method, "http://docker/_ping", nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := map[bool]string{true: "OK", false: ""}[method == http.MethodGet]
		if resp.StatusCode != 200 || string(body) != want || resp.Header.Get("API-Version") != "1.41" ||
			resp.Header.Get("Docker-Experimental") != "false" || resp.Header.Get("OSType") != "linux" {
			t.Fatalf("%s /_ping: %d %q %v", method, resp.StatusCode, body, resp.Header)
		}
	}
	if n := s.Requests("/_ping"); n != 3 {
		t.Fatalf("Requests(/_ping) = %d, want 3", n)
	}
}

func TestListInspect(t *testing.T) {
	s := start(t)
	c := newClient(t, s)
	ctx := context.Background()
	all, err := c.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, it := range all.Items {
		got[it.ID] = fmt.Sprintf("%v %s %s %v %t", it.Names, it.Image, it.State, it.Labels, it.Created > 0)
	}
	want := map[string]string{
		idWeb: "[/web] busybox:1 running map[app:web] true",
		idTTY: "[/tty] alpine exited map[] true",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("list all: %v, want %v", got, want)
	}
	running, err := c.ContainerList(ctx, client.ContainerListOptions{})
	if err != nil || len(running.Items) != 1 || running.Items[0].ID != idWeb {
		t.Fatalf("list running: %+v %v", running, err)
	}

	in, err := c.ContainerInspect(ctx, idTTY, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ct := in.Container
	if ct.ID != idTTY || ct.Name != "/tty" || ct.Config.Image != "alpine" || !ct.Config.Tty || ct.State.Running ||
		ct.State.Status != "exited" || ct.State.StartedAt != "2024-05-06T07:08:09.0000001Z" ||
		ct.State.FinishedAt != "2024-05-06T07:09:09.0000001Z" {
		t.Fatalf("inspect: %+v state %+v config %+v", ct, ct.State, ct.Config)
	}
	if _, err := time.Parse(time.RFC3339Nano, ct.Created); err != nil {
		t.Fatalf("Created %q: %v", ct.Created, err)
	}
	if in, err = c.ContainerInspect(ctx, "web", client.ContainerInspectOptions{}); err != nil ||
		in.Container.ID != idWeb || !in.Container.State.Running || in.Container.Config.Labels["app"] != "web" {
		t.Fatalf("inspect by name: %+v %v", in.Container, err)
	}

	_, err = c.ContainerInspect(ctx, strings.Repeat("9", 64), client.ContainerInspectOptions{})
	if !cerrdefs.IsNotFound(err) || !strings.Contains(err.Error(), "No such container: "+strings.Repeat("9", 64)) {
		t.Fatalf("inspect unknown: %v", err)
	}
	_, err = c.ContainerLogs(ctx, strings.Repeat("9", 64), client.ContainerLogsOptions{ShowStdout: true})
	if !cerrdefs.IsNotFound(err) {
		t.Fatalf("logs unknown: %v", err)
	}

	hc := rawClient(t, s)
	for path, code := range map[string]int{"/v1.41/nope": 404, "/v1.99/containers/json": 400, "/v1.24/containers/json": 200} {
		resp, err := hc.Get("http://docker" + path)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Message string }
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != code || code != 200 && (body.Message == "" || resp.Header.Get("Content-Type") != "application/json") {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, body.Message)
		}
	}
	if n := s.Requests("/containers/json"); n != 4 {
		t.Fatalf("Requests(/containers/json) = %d, want 4", n)
	}
}

func TestLogsNone(t *testing.T) {
	s := start(t)
	c := newClient(t, s)
	ls := lines(4)
	s.SetLogs(idWeb, fs.LogScript{{Lines: ls}})
	body, err := io.ReadAll(logs(t, c, ctxTimeout(t, 5*time.Second), idWeb, client.ContainerLogsOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, framed(ls...)) {
		t.Fatalf("body %q", body)
	}
	fr := parseFrames(body)
	if len(fr) != 4 || fr[1].stream != 2 || fr[0].data != "2024-05-06T07:08:09.000000100Z line 0\n" {
		t.Fatalf("frames %+v", fr)
	}

	// One stream only, no timestamps: dockerd filters and drops the prefix.
	rc, err := c.ContainerLogs(context.Background(), idWeb, client.ContainerLogsOptions{ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	body, err = io.ReadAll(rc)
	rc.Close()
	if err != nil || fmt.Sprint(parseFrames(body)) != fmt.Sprint([]frame{{2, 7, "line 1\n"}, {2, 7, "line 3\n"}}) {
		t.Fatalf("stderr only: %+v %v", parseFrames(body), err)
	}

	// No Content-Type, like API 1.41 (and no sniffed one).
	resp, err := rawClient(t, s).Get("http://docker/v1.41/containers/" + idWeb + "/logs?stdout=1")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "" {
		t.Fatalf("logs: %d Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// Neither stream: 400.
	resp, err = rawClient(t, s).Get("http://docker/v1.41/containers/" + idWeb + "/logs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("no stream: %d", resp.StatusCode)
	}
}

func TestLogsTTY(t *testing.T) {
	s := start(t)
	c := newClient(t, s)
	ls := []fs.Line{{Stream: 1, Time: base, Text: "a\r\n"}, {Stream: 2, Time: base.Add(time.Second), Text: "b\r\n"}}
	s.SetLogs(idTTY, fs.LogScript{{Lines: ls}})
	body, err := io.ReadAll(logs(t, c, context.Background(), idTTY, client.ContainerLogsOptions{Follow: true}))
	if err != nil {
		t.Fatal(err)
	}
	// Not running: follow=1 gives history then EOF.
	if want := "2024-05-06T07:08:09.000000100Z a\r\n2024-05-06T07:08:10.000000100Z b\r\n"; string(body) != want {
		t.Fatalf("tty body %q, want %q", body, want)
	}
}

func TestLogsSinceTail(t *testing.T) {
	s := start(t)
	c := newClient(t, s)
	ls := lines(5) // base+0ns .. base+4ns
	s.SetLogs(idWeb, fs.LogScript{{Lines: ls}})
	sinceOf := func(i int) string {
		ns := base.Add(time.Duration(i)).UnixNano()
		return fmt.Sprintf("%d.%09d", ns/1e9, ns%1e9)
	}
	for _, tc := range []struct {
		since, until, tail string
		want               []fs.Line
	}{
		{since: sinceOf(2), want: ls[2:]}, // inclusive to the nanosecond
		{since: sinceOf(5), want: nil},
		{tail: "2", want: ls[3:]},
		{tail: "0", want: nil},
		{tail: "all", want: ls},
		{tail: "3", since: sinceOf(1), want: ls[2:]}, // tail before since
		{tail: "2", since: sinceOf(1), want: ls[3:]},
		{tail: "3", since: sinceOf(3), want: ls[3:]},
		{until: sinceOf(1), want: ls[:2]}, // until inclusive
		{since: sinceOf(1), until: sinceOf(3), want: ls[1:4]},
	} {
		body, err := io.ReadAll(logs(t, c, context.Background(), idWeb, client.ContainerLogsOptions{Since: tc.since, Until: tc.until, Tail: tc.tail}))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(body, framed(tc.want...)) {
			t.Errorf("since=%s until=%s tail=%s: got %+v, want %d lines", tc.since, tc.until, tc.tail, parseFrames(body), len(tc.want))
		}
	}
	q := s.Queries("/containers/" + idWeb + "/logs")
	if len(q) != 10 || q[0].Get("since") != sinceOf(2) || q[2].Get("tail") != "2" {
		t.Fatalf("queries %v", q)
	}
}

func TestLogsFollow(t *testing.T) {
	s := start(t)
	c := newClient(t, s)
	ls := lines(2)
	s.SetLogs(idWeb, fs.LogScript{{Lines: ls}})

	// Running + follow: the lines, then the stream stays open.
	ctx := ctxTimeout(t, 300*time.Millisecond)
	rc := logs(t, c, ctx, idWeb, client.ContainerLogsOptions{Follow: true})
	got := make([]byte, len(framed(ls...)))
	if _, err := io.ReadFull(rc, got); err != nil || !bytes.Equal(got, framed(ls...)) {
		t.Fatalf("follow: %q %v", got, err)
	}
	if n, err := rc.Read(make([]byte, 1)); !deadlineAbort(ctx, err) {
		t.Fatalf("follow after lines: %d %v, want deadline exceeded", n, err)
	}

	// A stop ends the follow stream cleanly.
	rc = logs(t, c, context.Background(), idWeb, client.ContainerLogsOptions{Follow: true})
	if _, err := io.ReadFull(rc, got); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(100*time.Millisecond, func() { s.SetRunning(idWeb, false) })
	if rest, err := io.ReadAll(rc); err != nil || len(rest) != 0 {
		t.Fatalf("after stop: %q %v", rest, err)
	}
	// Not running: history then EOF.
	body, err := io.ReadAll(logs(t, c, ctxTimeout(t, 5*time.Second), idWeb, client.ContainerLogsOptions{Follow: true}))
	if err != nil || !bytes.Equal(body, framed(ls...)) {
		t.Fatalf("follow stopped: %q %v", body, err)
	}
	waitFor(t, "handlers to end", func() bool { return s.ActiveHandlers() == 0 })
}

func TestFaultSilence(t *testing.T) {
	s := start(t)
	c := newClient(t, s)
	s.SetLogs(idWeb, fs.LogScript{{Fault: fs.FaultSilence, Lines: lines(3)}})
	t0 := time.Now()
	ctx := ctxTimeout(t, 300*time.Millisecond)
	rc := logs(t, c, ctx, idWeb, client.ContainerLogsOptions{Follow: true})
	n, err := rc.Read(make([]byte, 64))
	if n != 0 || !deadlineAbort(ctx, err) || time.Since(t0) < 290*time.Millisecond {
		t.Fatalf("silence: %d %v after %v", n, err, time.Since(t0))
	}
	// The client went away: the handler returns.
	waitFor(t, "silent handler to end", func() bool { return s.ActiveHandlers() == 0 })

	// Raw net/http: headers (200, no Content-Type) at once, then the body
	// read ends with exactly context.DeadlineExceeded.
	rctx := ctxTimeout(t, 300*time.Millisecond)
	req, _ := http.NewRequestWithContext(rctx, http.MethodGet, "http://docker/v1.41/containers/"+idWeb+"/logs?stdout=1&stderr=1&timestamps=1&follow=1", nil)
	resp, err := rawClient(t, s).Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("raw silence headers: %v %v", resp, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if len(b) != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("raw silence: %q %v", b, err)
	}
	waitFor(t, "silent handler to end", func() bool { return s.ActiveHandlers() == 0 })
}

func TestFaultStallMidFrame(t *testing.T) {
	s := start(t)
	c := newClient(t, s)
	ls := lines(3)
	s.SetLogs(idWeb, fs.LogScript{{Fault: fs.FaultStallMidFrame, Lines: ls, Good: 1}})
	ctx := ctxTimeout(t, 500*time.Millisecond)
	rc := logs(t, c, ctx, idWeb, client.ContainerLogsOptions{})
	full := fs.Encode(ls[1], false, true)
	want := append(framed(ls[0]), full[:8+(len(full)-8)/2]...)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(rc, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("stall mid frame: %q %v", got, err)
	}
	fr := parseFrames(got)
	if len(fr) != 2 || fr[1].size != len(full)-8 || len(fr[1].data) != (len(full)-8)/2 {
		t.Fatalf("frames %+v", fr)
	}
	if n, err := rc.Read(make([]byte, 64)); n != 0 || !deadlineAbort(ctx, err) {
		t.Fatalf("after half frame: %d %v", n, err)
	}
}

func TestFaultMalformedHeader(t *testing.T) {
	s := start(t)
	c := newClient(t, s)
	ls := lines(1)
	s.SetLogs(idWeb, fs.LogScript{{Fault: fs.FaultMalformedHeader, Lines: ls}})
	body, err := io.ReadAll(logs(t, c, ctxTimeout(t, 5*time.Second), idWeb, client.ContainerLogsOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	p := "2024-05-06T07:08:09.000000100Z line 0\n"
	if len(body) != 8+len(p) || body[0] != 7 || body[1]|body[2]|body[3] == 0 ||
		binary.BigEndian.Uint32(body[4:8]) != uint32(len(p)) || string(body[8:]) != p {
		t.Fatalf("malformed header body % x", body)
	}
}

func TestFaultHugeFrame(t *testing.T) {
	s := start(t)
	c := newClient(t, s)
	s.SetLogs(idWeb, fs.LogScript{{Fault: fs.FaultHugeFrame}}) // no lines: placeholder bytes
	ctx := ctxTimeout(t, 500*time.Millisecond)
	rc := logs(t, c, ctx, idWeb, client.ContainerLogsOptions{})
	hdr := make([]byte, 8)
	if _, err := io.ReadFull(rc, hdr); err != nil || !bytes.Equal(hdr, []byte{1, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff}) {
		t.Fatalf("huge header % x %v", hdr, err)
	}
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := rc.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if !deadlineAbort(ctx, err) || len(got) == 0 {
				t.Fatalf("after huge header: %d bytes, %v", len(got), err)
			}
			break
		}
	}
}

func TestFaultCutFrame(t *testing.T) {
	s := start(t)
	c := newClient(t, s)
	ls := lines(3)
	s.SetLogs(idWeb, fs.LogScript{{Fault: fs.FaultCutFrame, Lines: ls, Good: 2}})
	body, err := io.ReadAll(logs(t, c, ctxTimeout(t, 5*time.Second), idWeb, client.ContainerLogsOptions{}))
	if err != nil {
		t.Fatalf("cut frame: the body must end cleanly, got %v", err)
	}
	fr := parseFrames(body)
	if len(fr) != 3 || len(fr[0].data) != fr[0].size || len(fr[1].data) != fr[1].size ||
		len(fr[2].data) != fr[2].size/2 || !strings.HasPrefix(string(framed(ls[2])[8:]), fr[2].data) {
		t.Fatalf("cut frame: %+v", fr)
	}
	// TTY: half the raw entry.
	s.SetLogs(idTTY, fs.LogScript{{Fault: fs.FaultCutFrame, Lines: []fs.Line{{Time: base, Text: "0123456789\r\n"}}}})
	body, err = io.ReadAll(logs(t, c, ctxTimeout(t, 5*time.Second), idTTY, client.ContainerLogsOptions{}))
	if want := "2024-05-06T07:08:09.000000100Z 0123456789\r\n"; err != nil || string(body) != want[:len(want)/2] {
		t.Fatalf("tty cut: %q %v", body, err)
	}
}

func TestFaultHTTPStatus(t *testing.T) {
	s := start(t)
	c := newClient(t, s)
	for _, tc := range []struct {
		status int
		msg    string
		is     func(error) bool
	}{
		{501, "configured logging driver does not support reading", cerrdefs.IsNotImplemented},
		{404, "No such container: " + idWeb, cerrdefs.IsNotFound},
		{409, "dead or marked for removal", cerrdefs.IsConflict},
		{500, "Internal Server Error", cerrdefs.IsInternal},
	} {
		s.SetLogs(idWeb, fs.LogScript{{Fault: fs.FaultHTTPStatus, Status: tc.status}})
		_, err := c.ContainerLogs(context.Background(), idWeb, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
		if err == nil || !tc.is(err) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("status %d: %v", tc.status, err)
		}
	}
	s.SetLogs(idWeb, fs.LogScript{{Fault: fs.FaultHTTPStatus, Status: 501, Message: "custom"}})
	resp, err := rawClient(t, s).Get("http://docker/v1.41/containers/" + idWeb + "/logs?stdout=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 501 || resp.Header.Get("Content-Type") != "application/json" || strings.TrimSpace(string(body)) != `{"message":"custom"}` {
		t.Fatalf("raw 501: %d %q", resp.StatusCode, body)
	}
}

func TestFaultTrickle(t *testing.T) {
	s := start(t)
	c := newClient(t, s)
	ls := []fs.Line{{Stream: 2, Time: base, Text: "hi\n"}}
	const iv = 10 * time.Millisecond
	s.SetLogs(idWeb, fs.LogScript{{Fault: fs.FaultTrickle, Lines: ls, TrickleInterval: iv}})
	want := framed(ls...)
	t0 := time.Now()
	rc := logs(t, c, ctxTimeout(t, 10*time.Second), idWeb, client.ContainerLogsOptions{})
	var got []byte
	buf := make([]byte, 64)
	reads := 0
	for {
		n, err := rc.Read(buf)
		got = append(got, buf[:n]...)
		if n > 0 {
			reads++
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	el := time.Since(t0)
	if !bytes.Equal(got, want) || reads < 2 || el < time.Duration(len(want)-1)*iv {
		t.Fatalf("trickle: %q in %d reads, %v", got, reads, el)
	}
}

func TestFaultDaemonError(t *testing.T) {
	s := start(t)
	c := newClient(t, s)
	ls := lines(2)
	s.SetLogs(idWeb, fs.LogScript{{Fault: fs.FaultDaemonError, Lines: ls, Good: 1, Message: "boom"}})
	body, err := io.ReadAll(logs(t, c, ctxTimeout(t, 5*time.Second), idWeb, client.ContainerLogsOptions{}))
	if err != nil || !bytes.Equal(body, append(framed(ls[0]), fs.Frame(3, []byte("boom"))...)) {
		t.Fatalf("daemon error: %+v %v", parseFrames(body), err)
	}
}

func TestScriptStepping(t *testing.T) {
	s := start(t)
	c := newClient(t, s)
	ls := lines(2)
	s.SetLogs(idWeb, fs.LogScript{
		{Fault: fs.FaultSilence},
		{Lines: ls},
		{Fault: fs.FaultHTTPStatus, Status: 409},
	})
	// 1: stall.
	ctx := ctxTimeout(t, 200*time.Millisecond)
	rc := logs(t, c, ctx, idWeb, client.ContainerLogsOptions{})
	if _, err := rc.Read(make([]byte, 8)); !deadlineAbort(ctx, err) {
		t.Fatalf("step 1: %v", err)
	}
	// 2: the lines.
	body, err := io.ReadAll(logs(t, c, context.Background(), idWeb, client.ContainerLogsOptions{}))
	if err != nil || !bytes.Equal(body, framed(ls...)) {
		t.Fatalf("step 2: %q %v", body, err)
	}
	// 3 and 4: the last step repeats.
	for i := 3; i <= 4; i++ {
		if _, err := c.ContainerLogs(context.Background(), idWeb, client.ContainerLogsOptions{ShowStdout: true}); !cerrdefs.IsConflict(err) {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	// Other containers have their own numbering (no script: no lines).
	if body, err := io.ReadAll(logs(t, c, context.Background(), idTTY, client.ContainerLogsOptions{})); err != nil || len(body) != 0 {
		t.Fatalf("tty without script: %q %v", body, err)
	}
	if n := s.Requests("/containers/" + idWeb + "/logs"); n != 4 {
		t.Fatalf("Requests(logs) = %d, want 4", n)
	}
	if n := s.Requests("/containers/"); n != 5 {
		t.Fatalf("Requests(/containers/) = %d, want 5", n)
	}
	// SetLogs restarts the numbering.
	s.SetLogs(idWeb, fs.LogScript{{Lines: ls[:1]}, {Fault: fs.FaultSilence}})
	body, err = io.ReadAll(logs(t, c, context.Background(), idWeb, client.ContainerLogsOptions{}))
	if err != nil || !bytes.Equal(body, framed(ls[0])) {
		t.Fatalf("after SetLogs: %q %v", body, err)
	}
}

func TestEvents(t *testing.T) {
	s := start(t)
	c := newClient(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t0 := time.Now()
	f := make(client.Filters).Add("type", "container").Add("event", "start", "die")
	ev := c.Events(ctx, client.EventsListOptions{Filters: f})
	if n := s.EventSubscribers(); n != 1 {
		t.Fatalf("subscribers %d", n)
	}
	s.Emit("start", idWeb)
	s.Emit("pause", idWeb) // filtered out
	s.Emit("die", idTTY)
	for i, want := range []string{"start " + idWeb + " web busybox:1 web ", "die " + idTTY + " tty alpine  3"} {
		select {
		case m := <-ev.Messages:
			a := m.Actor.Attributes
			got := fmt.Sprintf("%s %s %s %s %s %s", m.Action, m.Actor.ID, a["name"], a["image"], a["app"], a["exitCode"])
			if got != want || m.Type != "container" || m.Scope != "local" || m.TimeNano < t0.UnixNano() || m.Time != m.TimeNano/1e9 {
				t.Fatalf("event %d: %s (%+v), want %s", i, got, m, want)
			}
		case err := <-ev.Err:
			t.Fatal(err)
		case <-time.After(3 * time.Second):
			t.Fatalf("event %d: timeout", i)
		}
	}

	// since replays; until in the past ends the stream after the replay.
	unix := func(t time.Time) string { ns := t.UnixNano(); return fmt.Sprintf("%d.%09d", ns/1e9, ns%1e9) }
	ev2 := c.Events(ctx, client.EventsListOptions{Since: unix(t0), Until: unix(time.Now())})
	var actions []string
	for done := false; !done; {
		select {
		case m := <-ev2.Messages:
			actions = append(actions, string(m.Action))
		case err := <-ev2.Err:
			if err != io.EOF {
				t.Fatalf("replay end: %v", err)
			}
			done = true
		case <-time.After(3 * time.Second):
			t.Fatal("replay: timeout")
		}
	}
	if fmt.Sprint(actions) != "[start pause die]" {
		t.Fatalf("replay %v", actions)
	}

	// Raw: Content-Type and newline-delimited JSON, open until the client leaves.
	rctx, rcancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer rcancel()
	req, _ := http.NewRequestWithContext(rctx, http.MethodGet, "http://docker/v1.41/events?since=1", nil)
	resp, err := rawClient(t, s).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.Header.Get("Content-Type") != "application/json" || !errors.Is(err, context.DeadlineExceeded) || strings.Count(string(b), "\n") != 3 {
		t.Fatalf("raw events: %q %q %v", resp.Header.Get("Content-Type"), b, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b[:bytes.IndexByte(b, '\n')], &m); err != nil || m["scope"] != "local" || m["Type"] != "container" {
		t.Fatalf("raw event %q: %v", b, err)
	}
	cancel()
	waitFor(t, "events handlers to end", func() bool { return s.ActiveHandlers() == 0 && s.EventSubscribers() == 0 })
}

func TestCloseUnblocksEverything(t *testing.T) {
	s := start(t)
	c := newClient(t, s)
	s.SetLogs(idWeb, fs.LogScript{
		{Fault: fs.FaultSilence},
		{Fault: fs.FaultStallMidFrame},
		{Fault: fs.FaultHugeFrame},
		{Fault: fs.FaultTrickle, Lines: lines(10), TrickleInterval: time.Hour},
		{Lines: lines(1)}, // follow on a running container
	})
	var bodies []io.ReadCloser
	for range 5 {
		bodies = append(bodies, logs(t, c, context.Background(), idWeb, client.ContainerLogsOptions{Follow: true}))
	}
	ev := c.Events(context.Background(), client.EventsListOptions{})
	waitFor(t, "6 handlers", func() bool { return s.ActiveHandlers() == 6 })

	closed := make(chan struct{})
	go func() { s.Close(); s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
		t.Fatal("Close hangs")
	}
	if n := s.ActiveHandlers(); n != 0 {
		t.Fatalf("%d handlers after Close", n)
	}
	for i, b := range bodies {
		done := make(chan error, 1)
		go func() { _, err := io.ReadAll(b); done <- err }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			t.Fatalf("body %d still blocked after Close", i)
		}
		b.Close()
	}
	select {
	case <-ev.Err:
	case <-time.After(3 * time.Second):
		t.Fatal("events stream still open after Close")
	}
	if _, err := c.Ping(context.Background(), client.PingOptions{}); err == nil {
		t.Fatal("ping after Close succeeded")
	}
	c.Close()
	goleak.VerifyNone(t)
}
