// Package docker is the plugin's access to the Docker Engine API: a narrow
// interface with only what the engine calls (API), its implementation on
// github.com/moby/moby/client (Client), and the decoding of log streams.
package docker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

// Container is what the engine needs to know of a container.
type Container struct {
	ID      string // full ID
	Name    string // without the leading "/"
	Image   string // the image reference as the container was created
	ImageID string // the image's ID, "sha256:..." (from Inspect only)
	TTY     bool
	Running bool
	Labels  map[string]string
	Created int64 // unix nanoseconds (whole seconds from List)
	// FinishedAt is when the container last stopped (unix nanoseconds, 0
	// if never; from Inspect only).
	FinishedAt int64
	// RotateSize is the size at which the daemon rotates the container's
	// json-file log (its max-size; 0: it never does; from Inspect only).
	RotateSize int64
	// LogDriver is the container's log driver, and LogPath where dockerd
	// writes its json-file log (from Inspect only).
	LogDriver, LogPath string
}

// Event is a container lifecycle event.
type Event struct {
	Action string // "start", "die", "destroy", "rename", ...
	ID     string
	Name   string // the (new) name, without "/"
	Image  string
	// Labels are the event's attributes other than name and image: the
	// container's labels, with a few of the daemon's own (exitCode, ...).
	Labels map[string]string
	Time   int64 // unix nanoseconds
}

// Container is what the event says of its container.
func (ev Event) Container() Container {
	return Container{ID: ev.ID, Name: ev.Name, Image: ev.Image, Labels: ev.Labels}
}

// LogsOptions selects what a logs request returns. Stdout and stderr are
// always both requested, with timestamps.
type LogsOptions struct {
	Since  int64 // unix nanoseconds, inclusive; 0 reads from the oldest retained entry
	Follow bool
	// Tail, when > 0, limits the response to the last Tail entries (of
	// both streams, applied before Since), so the daemon does not scan the
	// whole log file to find Since.
	Tail int
}

// EventStream yields events until ctx ends or the connection fails.
type EventStream interface {
	Next(ctx context.Context) (Event, error)
}

// API is everything the engine asks of the daemon; tests fake it.
type API interface {
	Ping(ctx context.Context) error
	// HostName is the daemon's host name (its /info Name).
	HostName(ctx context.Context) (string, error)
	List(ctx context.Context) ([]Container, error)
	Inspect(ctx context.Context, id string) (Container, error)
	// Logs opens a log stream; the caller owns and closes the body, and
	// decodes it with NewLogReader.
	Logs(ctx context.Context, id string, opts LogsOptions) (io.ReadCloser, error)
	// Events follows container events from since (unix nanoseconds, 0 for
	// now). Cancelling ctx ends the stream and its goroutine.
	Events(ctx context.Context, since int64) (EventStream, error)
	Close() error
}

// Options configure a Client.
type Options struct {
	Host string // docker_host
	// StreamIdleTimeout is the read deadline set on a log stream's
	// connection before each read: a stream silent for that long fails
	// with a timeout and is reopened. 0 disables it.
	StreamIdleTimeout time.Duration
	// LabelFilters ("key" or "key=value") are applied by the daemon to the
	// container list and events: containers without them never reach us.
	LabelFilters []string
	// TLS, when set, is used for a tcp:// or https:// daemon.
	TLS *TLSOptions
	// APIVersion pins the API version; empty negotiates it.
	APIVersion string
}

// TLSOptions are the PEM files of a TLS connection to the daemon.
type TLSOptions struct {
	Verify        bool
	CA, Cert, Key string
}

// Client implements API. Control calls and the events stream (silent for
// as long as no container changes) go through the Docker Engine client; log
// streams are requests of their own, with an idle read deadline
// (logstream.go).
type Client struct {
	// control is replaced, never changed, when the API version is
	// negotiated again (see Ping): the moby client's negotiation writes the
	// version that every request of it reads, without a lock.
	control    atomic.Pointer[client.Client]
	newControl func() (*client.Client, error)
	// connected: the last Ping succeeded, on the negotiated version.
	connected atomic.Bool
	streams   *streamDialer
	labels    []string
}

var _ API = (*Client)(nil)

// New makes a Client. It does not contact the daemon.
func New(o Options) (*Client, error) {
	u, err := client.ParseHostURL(o.Host)
	if err != nil {
		return nil, err
	}
	sd := &streamDialer{network: "tcp", addr: u.Host, idle: o.StreamIdleTimeout} // for unix://, Host is the socket path
	if u.Scheme == "unix" {
		sd.network = "unix"
	}
	var tlsCfg *tls.Config
	if o.TLS != nil && sd.network == "tcp" {
		if tlsCfg, err = tlsConfig(o.TLS); err != nil {
			return nil, err
		}
		sd.tls = tlsCfg.Clone()
		if sd.tls.ServerName == "" {
			sd.tls.ServerName, _, _ = net.SplitHostPort(u.Host)
		}
	}
	c := &Client{streams: sd, labels: o.LabelFilters}
	c.newControl = func() (*client.Client, error) { return newMobyClient(o, sd.network, sd.addr, tlsCfg) }
	control, err := c.newControl()
	if err != nil {
		return nil, err
	}
	c.control.Store(control)
	sd.version = func() string { return c.ctl().ClientVersion() }
	return c, nil
}

func (c *Client) ctl() *client.Client { return c.control.Load() }

func newMobyClient(o Options, network, addr string, tlsCfg *tls.Config) (*client.Client, error) {
	// WithHost installs its own dialer; ours comes after it and dials the
	// daemon itself, because the transport hands a unix dialer "<path>:80".
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	version := client.WithAPIVersionNegotiation()
	if o.APIVersion != "" {
		version = client.WithAPIVersion(o.APIVersion)
	}
	tr, scheme := &http.Transport{TLSClientConfig: tlsCfg}, "http"
	if tlsCfg != nil {
		scheme = "https"
	}
	// Our transport first: WithHost configures it, then our dialer replaces
	// the one WithHost installs (TLS is layered over it). The scheme is
	// explicit: the client guesses https for any transport it is given.
	return client.New(client.WithHTTPClient(&http.Client{Transport: tr}), client.WithHost(o.Host),
		client.WithDialContext(dial), client.WithScheme(scheme), version)
}

func tlsConfig(o *TLSOptions) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: !o.Verify}
	if o.CA != "" {
		pem, err := os.ReadFile(o.CA)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", o.CA)
		}
	}
	if o.Cert != "" {
		pair, err := tls.LoadX509KeyPair(o.Cert, o.Key)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// Close closes the control client's idle connections (a log stream's
// connection is closed with its body).
func (c *Client) Close() error {
	return c.ctl().Close()
}

// Ping checks the daemon answers. The first Ping, and the first after one
// failed (a reconnect: the daemon may have been upgraded or downgraded
// meanwhile), negotiates the API version on a client of its own and only
// then puts it in use, so no request ever reads a version being written.
func (c *Client) Ping(ctx context.Context) error {
	if c.connected.Load() {
		_, err := c.ctl().Ping(ctx, client.PingOptions{})
		if err != nil {
			c.connected.Store(false)
		}
		return err
	}
	fresh, err := c.newControl()
	if err != nil {
		return err
	}
	if _, err := fresh.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		fresh.Close()
		return err
	}
	c.control.Swap(fresh).Close() // its requests in flight finish
	c.connected.Store(true)
	return nil
}

// HostName returns the daemon's host name.
func (c *Client) HostName(ctx context.Context) (string, error) {
	res, err := c.ctl().Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", err
	}
	return res.Info.Name, nil
}

// RootDir is the daemon's data-root (its /info DockerRootDir): json-file
// logs are under its containers directory.
func (c *Client) RootDir(ctx context.Context) (string, error) {
	res, err := c.ctl().Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", err
	}
	return res.Info.DockerRootDir, nil
}

// List returns every container, running or not.
func (c *Client) List(ctx context.Context) ([]Container, error) {
	opts := client.ContainerListOptions{All: true}
	if len(c.labels) > 0 {
		opts.Filters = make(client.Filters).Add("label", c.labels...)
	}
	res, err := c.ctl().ContainerList(ctx, opts)
	if err != nil {
		return nil, err
	}
	out := make([]Container, 0, len(res.Items))
	for _, s := range res.Items {
		name := ""
		if len(s.Names) > 0 {
			name = strings.TrimPrefix(s.Names[0], "/")
		}
		out = append(out, Container{
			ID: s.ID, Name: name, Image: s.Image, Labels: s.Labels,
			Running: s.State == "running", Created: s.Created * 1e9,
		})
	}
	return out, nil
}

// Inspect returns one container's current description.
func (c *Client) Inspect(ctx context.Context, id string) (Container, error) {
	res, err := c.ctl().ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return Container{}, err
	}
	ct := res.Container
	out := Container{ID: ct.ID, Name: strings.TrimPrefix(ct.Name, "/"), ImageID: ct.Image}
	if ct.Config != nil {
		out.Image, out.TTY, out.Labels = ct.Config.Image, ct.Config.Tty, ct.Config.Labels
	}
	out.Created = parseAPITime(ct.Created)
	if h := ct.HostConfig; h != nil {
		out.LogDriver = h.LogConfig.Type
		if h.LogConfig.Type == "json-file" {
			out.RotateSize, _ = units.RAMInBytes(h.LogConfig.Config["max-size"])
			out.LogPath = ct.LogPath
		}
	}
	if ct.State != nil {
		out.Running = ct.State.Running
		out.FinishedAt = parseAPITime(ct.State.FinishedAt)
	}
	return out, nil
}

// Logs opens a log stream of stdout and stderr with timestamps.
func (c *Client) Logs(ctx context.Context, id string, o LogsOptions) (io.ReadCloser, error) {
	q := url.Values{"stdout": {"1"}, "stderr": {"1"}, "timestamps": {"1"}}
	if o.Follow {
		q.Set("follow", "1")
	}
	if o.Since > 0 {
		q.Set("since", FormatUnixNano(o.Since))
	}
	if o.Tail > 0 {
		q.Set("tail", strconv.Itoa(o.Tail))
	}
	return c.streams.get(ctx, "/containers/"+url.PathEscape(id)+"/logs", q)
}

// Events follows container lifecycle events. Podman's Docker-compatible
// API filters on its own event names ("died" for die) and ends a container
// with "remove", not "destroy"; Docker accepts (and never matches) the
// extra names.
func (c *Client) Events(ctx context.Context, since int64) (EventStream, error) {
	f := make(client.Filters).Add("type", "container").
		Add("event", "create", "start", "restart", "die", "died", "destroy", "remove", "rename")
	if len(c.labels) > 0 {
		f = f.Add("label", c.labels...)
	}
	opts := client.EventsListOptions{Filters: f}
	if since > 0 {
		opts.Since = FormatUnixNano(since)
	}
	res := c.ctl().Events(ctx, opts)
	return &mobyEvents{res: res, c: c}, nil
}

type mobyEvents struct {
	res client.EventsResult
	c   *Client
}

func (e *mobyEvents) Next(ctx context.Context) (Event, error) {
	select {
	case m := <-e.res.Messages:
		return convertEvent(m), nil
	case err := <-e.res.Err:
		if err == nil {
			err = io.EOF
		}
		if ctx.Err() == nil {
			e.c.connected.Store(false) // the next Ping is a reconnect
		}
		return Event{}, err
	case <-ctx.Done():
		return Event{}, ctx.Err()
	}
}

func convertEvent(m events.Message) Event {
	t := m.TimeNano
	if t == 0 {
		t = m.Time * 1e9
	}
	ev := Event{Action: normalAction(string(m.Action)), ID: m.Actor.ID, Time: t,
		Name: strings.TrimPrefix(m.Actor.Attributes["name"], "/"), Image: m.Actor.Attributes["image"]}
	for k, v := range m.Actor.Attributes {
		if k != "name" && k != "image" {
			if ev.Labels == nil {
				ev.Labels = map[string]string{}
			}
			ev.Labels[k] = v
		}
	}
	return ev
}

// normalAction names Podman's events as Docker does: "remove" is destroy,
// "died" (its internal name) is die.
func normalAction(a string) string {
	switch a {
	case "remove":
		return "destroy"
	case "died":
		return "die"
	}
	return a
}

// parseAPITime reads an RFC 3339 time of the API as unix nanoseconds; the
// zero time ("0001-01-01T00:00:00Z", never happened) and bad values are 0.
func parseAPITime(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < 1970 {
		return 0
	}
	return t.UnixNano()
}

// FormatUnixNano formats unix nanoseconds as the API's "sec.nnnnnnnnn",
// the only form Docker 20.10 accepts for since and until.
func FormatUnixNano(ns int64) string {
	sec, frac := ns/1e9, ns%1e9
	if frac < 0 {
		sec, frac = sec-1, frac+1e9
	}
	return strconv.FormatInt(sec, 10) + "." + fmt.Sprintf("%09d", frac)
}

// IsGone reports a container that no longer exists or is being removed
// (HTTP 404 or 409): its monitor ends.
// Podman answers a request on a container removed meanwhile with HTTP 500
// or, on a logs stream, an error object, saying "no such container".
func IsGone(err error) bool {
	return cerrdefs.IsNotFound(err) || cerrdefs.IsConflict(err) ||
		err != nil && (strings.Contains(err.Error(), "no such container") ||
			strings.Contains(err.Error(), "has already been removed")) // Podman
}

// IsUnreadable reports a container whose log driver cannot be read through
// the API (HTTP 501): permanent for that container.
func IsUnreadable(err error) bool {
	return cerrdefs.IsNotImplemented(err)
}

// IsConnectionFailed reports that the daemon could not be reached at all.
func IsConnectionFailed(err error) bool {
	return client.IsErrConnectionFailed(err) || errors.As(err, new(connectError))
}

// IsTimeout reports an idle read deadline expiry on a stream.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// HostLabel returns the daemon address for log messages, without any
// credentials a URL might carry.
func HostLabel(host string) string {
	u, err := url.Parse(host)
	if err != nil {
		return host
	}
	u.User = nil
	return u.String()
}
