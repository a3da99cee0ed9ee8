// Package conf holds every configuration key of the docker_logs input: its
// type, default and description in one table that drives parsing, defaults,
// validation and the README's key table.
//
// Fluent Bit hands a Go input no config map, so it validates none of our
// keys: every value is checked here, and all problems are reported at once,
// each naming its key.
package conf

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Getter is the one seam through which configuration is read: the plugin
// passes Fluent Bit's input_get_property, tests pass a map. Get returns ""
// for an unset key.
type Getter interface {
	Get(key string) string
}

// Map is a Getter over a plain map with case-insensitive keys, as Fluent
// Bit's own property lookup is.
type Map map[string]string

// Get implements Getter.
func (m Map) Get(key string) string {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// Config is the parsed, validated configuration of one instance.
type Config struct {
	DockerHost   string
	TLS          *TLS   // nil: no TLS
	APIVersion   string // "": negotiated
	tls          tlsKeys
	ReadFromHead bool
	Filter       Filter
	IncludeSelf  bool
	// Labels selects the container labels records carry (globs over the
	// label key); nil: none.
	Labels   []*regexp.Regexp
	Hostname string // "": the daemon's host name
	// TagTemplate makes each container's records carry their own tag;
	// nil: the instance's tag.
	TagTemplate *TagTemplate
	// OmitFields are the metadata fields records leave out (record_fields;
	// none by default, so a zero Config carries them all).
	OmitFields        Fields
	BufferMaxSize     int64
	ChunkMaxSize      int64
	MaxLineSize       int64
	StreamLifetime    time.Duration
	StreamIdleTimeout time.Duration
	HeartbeatTimeout  time.Duration
	DB                string
	DBSyncInterval    time.Duration
	DBCommitDelay     time.Duration
	// Shard: this instance collects the containers whose ID hashes to
	// ShardIndex (1-based) of ShardCount; ShardCount 0 collects all.
	ShardIndex, ShardCount int
	PluginLogLevel         Level
	PluginLogLevelSet      bool   // deprecated: Fluent Bit's log_level decides
	StatusListen           string // host:port of the status endpoint; "": off
	StatusPprof            bool
	// Source is where containers' lines are read from; DataRoot maps the
	// daemon's data-root to where this process sees it ("" : the same).
	Source               Source
	DataRoot, DataRootAt string
}

// Source is where a container's lines come from.
type Source int

const (
	SourceAPI  Source = iota // the Engine API's logs endpoint
	SourceFile               // its json-file log on disk, else the API (with a warning)
	SourceAuto               // its json-file log where readable, else the API
)

func (s Source) String() string { return [...]string{"api", "file", "auto"}[s] }

// LogPath is where this process finds a log the daemon writes at path.
func (c *Config) LogPath(path string) string {
	if c.DataRoot == "" || path == "" {
		return path
	}
	if rel, err := filepath.Rel(c.DataRoot, path); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.Join(c.DataRootAt, rel)
	}
	return path
}

// Key describes one configuration key.
type Key struct {
	Name        string
	Type        string // "string", "bool", "size", "duration", "list", "enum"
	Default     string // as the user would write it; see DefaultFor for computed ones
	Description string
	// set parses a (non-empty, trimmed) value into c.
	set func(c *Config, v string) error
	// follow, when the key is not set, bounds its default by the keys it
	// must agree with (run after every key is parsed), so that setting
	// one key alone never fails on a default the user did not choose.
	follow func(c *Config)
}

// Keys is the table of every key, in the order the README lists them.
var Keys = []Key{
	{
		Name: "docker_host", Type: "string", Default: "$DOCKER_HOST, else unix:///var/run/docker.sock",
		Description: "Docker Engine API address: `unix:///path`, `tcp://host:port`, `http://host:port` or `https://host:port`.",
		set: func(c *Config, v string) (err error) {
			c.DockerHost, err = parseDockerHost(v)
			return err
		},
	},
	{
		Name: "docker_tls_verify", Type: "bool", Default: "true when TLS is used",
		Description: "Verify the daemon's certificate (against `docker_tls_ca`, else the system's roots). TLS is used for an `https://` daemon, or a `tcp://` one when any TLS key is set. `$DOCKER_TLS_VERIFY` applies when unset.",
		set:         func(c *Config, v string) error { c.tls.verify = v; return nil },
	},
	{
		Name: "docker_cert_path", Type: "string", Default: "$DOCKER_CERT_PATH",
		Description: "Directory holding `ca.pem`, `cert.pem` and `key.pem`, as the Docker CLI uses; the three keys below override single files.",
		set:         func(c *Config, v string) error { c.tls.certPath = v; return nil },
	},
	{
		Name: "docker_tls_ca", Type: "string", Default: "",
		Description: "CA certificate (PEM) the daemon's certificate must chain to.",
		set:         func(c *Config, v string) error { c.tls.ca = v; return nil },
	},
	{
		Name: "docker_tls_cert", Type: "string", Default: "",
		Description: "Client certificate (PEM), with `docker_tls_key`, for a daemon that requires one (`--tlsverify`).",
		set:         func(c *Config, v string) error { c.tls.cert = v; return nil },
	},
	{
		Name: "docker_tls_key", Type: "string", Default: "",
		Description: "Client private key (PEM) of `docker_tls_cert`.",
		set:         func(c *Config, v string) error { c.tls.key = v; return nil },
	},
	{
		Name: "docker_api_version", Type: "string", Default: "$DOCKER_API_VERSION, else negotiated",
		Description: "Engine API version to speak, e.g. `1.41`. Unset, the highest both sides support is negotiated, and again after every reconnect (a daemon may have been upgraded).",
		set: func(c *Config, v string) (err error) {
			c.APIVersion, err = parseAPIVersion(v)
			return err
		},
	},
	{
		Name: "source", Type: "enum", Default: "auto",
		Description: "Where containers' lines are read from: `auto` (a json-file container's log file where it can be read, the API otherwise; when the daemon's containers directory cannot be read, one info line at start names the mount that would let it be), `file` (the same, with a warning naming each container read through the API), or `api` (the Engine API's logs endpoint for every container, whatever its log driver). A file is read as dockerd writes it, exactly once across rotations, at about a quarter of the plugin's CPU per line and none of dockerd's. Discovery, events and metadata always come from the API. See [Reading json-file logs from disk](#reading-json-file-logs-from-disk).",
		set: func(c *Config, v string) error {
			switch strings.ToLower(v) {
			case "api":
				c.Source = SourceAPI
			case "file":
				c.Source = SourceFile
			case "auto":
				c.Source = SourceAuto
			default:
				return fmt.Errorf("invalid source %q: must be api, file or auto", v)
			}
			return nil
		},
	},
	{
		Name: "docker_data_root", Type: "string", Default: "",
		Description: "With `source file` or `auto`, when Fluent Bit sees the daemon's data-root at another path (a container with it mounted read-only): `<daemon's path>:<path here>`, e.g. `/var/lib/docker:/host/docker`. Unset, logs are opened at the paths the daemon gives.",
		set: func(c *Config, v string) error {
			daemon, here, ok := strings.Cut(v, ":")
			if !ok || !filepath.IsAbs(daemon) || !filepath.IsAbs(here) {
				return fmt.Errorf("invalid docker_data_root %q: must be <daemon's data-root>:<where it is mounted here>, both absolute paths", v)
			}
			c.DataRoot, c.DataRootAt = filepath.Clean(daemon), filepath.Clean(here)
			return nil
		},
	},
	{
		Name: "read_from_head", Type: "bool", Default: "false",
		Description: "For containers already running when the plugin starts: read their whole retained log (true) or only what they write from now on (false), like tail's key of that name. Containers created later are always read from their first line.",
		set: func(c *Config, v string) (err error) {
			c.ReadFromHead, err = parseBool(v)
			return err
		},
	},
	{
		Name: "include_names", Type: "list", Default: "",
		Description: "Collect only containers whose name (without `/`) matches one of these comma-separated globs (`*`, `?`); a value written `/like this/` is a regular expression.",
		set: func(c *Config, v string) (err error) {
			c.Filter.IncludeNames, err = parsePatterns(v)
			return err
		},
	},
	{
		Name: "exclude_names", Type: "list", Default: "",
		Description: "Never collect containers whose name matches one of these globs or `/regular expressions/`. Exclusion wins over inclusion.",
		set: func(c *Config, v string) (err error) {
			c.Filter.ExcludeNames, err = parsePatterns(v)
			return err
		},
	},
	{
		Name: "include_labels", Type: "list", Default: "",
		Description: "Collect only containers carrying every one of these labels: `key` (any value) or `key=value` (globs allowed in the value), comma-separated. Labels without globs are also applied by the Docker API itself.",
		set: func(c *Config, v string) (err error) {
			c.Filter.IncludeLabels, err = parseLabels(v)
			return err
		},
	},
	{
		Name: "exclude_labels", Type: "list", Default: "",
		Description: "Never collect containers carrying any of these labels (`key` or `key=value`, globs in the value). A container can also opt out with the label `docker_logs.exclude=true`.",
		set: func(c *Config, v string) (err error) {
			c.Filter.ExcludeLabels, err = parseLabels(v)
			return err
		},
	},
	{
		Name: "include_images", Type: "list", Default: "",
		Description: "Collect only containers whose image reference, as created (e.g. `nginx:1.27`, `registry.local/app/*`), matches one of these globs or `/regular expressions/`.",
		set: func(c *Config, v string) (err error) {
			c.Filter.IncludeImages, err = parsePatterns(v)
			return err
		},
	},
	{
		Name: "exclude_images", Type: "list", Default: "",
		Description: "Never collect containers whose image reference matches one of these globs or `/regular expressions/`.",
		set: func(c *Config, v string) (err error) {
			c.Filter.ExcludeImages, err = parsePatterns(v)
			return err
		},
	},
	{
		Name: "include_self", Type: "bool", Default: "false",
		Description: "Collect the logs of the container the plugin itself runs in (found from /proc/self: cgroup and mounts). Off, so a Fluent Bit in a container never reads its own output back.",
		set: func(c *Config, v string) (err error) {
			c.IncludeSelf, err = parseBool(v)
			return err
		},
	},
	{
		Name: "labels", Type: "list", Default: "",
		Description: "Container labels each record carries, as a map under `labels`: comma-separated globs on the label key (`com.example.*`, `app`), `*` for all, or `/regular expressions/`.",
		set: func(c *Config, v string) (err error) {
			c.Labels, err = parsePatterns(v)
			return err
		},
	},
	{
		Name: "record_fields", Type: "list", Default: strings.Join(fieldNames, ","),
		Description: "The metadata fields records carry besides `log` and `stream` (and `truncated` on a cut line): any of " + "`" + strings.Join(fieldNames, "`, `") + "`" + ". Fewer fields make smaller records, so more of them fit in an instance's bound (README, Throughput). `labels` carries those the `labels` key selects.",
		set: func(c *Config, v string) error {
			f, err := parseFields(v)
			c.OmitFields = AllFields &^ f
			return err
		},
	},
	{
		Name: "hostname", Type: "string", Default: "the daemon's host name",
		Description: "Value of every record's `hostname` field. Unset, it is the Docker daemon's own host name (from its /info; the name of the machine the containers run on, also when Fluent Bit runs in a container or on another machine), else Fluent Bit's host name.",
		set:         func(c *Config, v string) error { c.Hostname = v; return nil },
	},
	{
		Name: "tag_template", Type: "string", Default: "",
		Description: "Each container's records carry their own tag, made from this template with the fields `{container_name}`, `{container_id}`, `{short_id}` (12 hex digits), `{image}`, `{compose_project}` and `{compose_service}` (empty without the Compose labels), e.g. `docker.{container_name}`, so outputs route per container (`Match docker.web*`). Unset, records carry the input's `Tag`, as do those whose template expands to nothing. Needs a Fluent Bit that exports flb_input_log_append (init fails otherwise, saying so).",
		set: func(c *Config, v string) (err error) {
			c.TagTemplate, err = parseTagTemplate(v)
			return err
		},
	},
	{
		Name: "buffer_max_size", Type: "size", Default: "4M",
		Description: "Most bytes of encoded records held in memory per instance. When it is full, reading from Docker pauses (nothing is dropped): the daemon's log files hold the backlog. Where the plugin runs its own event collector (Fluent Bit >= 2.0, the input threaded, as by default), records are appended as they are read and the buffer only evens out bursts: 4M carries one container's backlog at the daemon's full rate (BENCHMARKS.md, P1). Where records wait for the proxy's 1 s collect (`threaded false`, or a Fluent Bit without the event collector's calls), an instance carries at most this much a second: about 11,000 records/s of 100-byte lines at 4M (~350 bytes a record with its metadata); raise it there for more. The memory is taken only while containers write that fast: once the load drops, the buffer gives it back.",
		set: func(c *Config, v string) (err error) {
			c.BufferMaxSize, err = parseSize(v, 64*1000)
			return err
		},
	},
	{
		Name: "chunk_max_size", Type: "size", Default: "2M",
		Description: "Most bytes of records handed to Fluent Bit at once. On a Fluent Bit that does not export flb_input_log_append, that is the one collect a second, which becomes one chunk and so bounds an instance's throughput (at 2M about 5,400 records/s of 100-byte lines with their metadata, ~370 bytes a record); 2M is the chunk size of Fluent Bit's own inputs and a third of what a default `forward` hop accepts (in_forward drops a message over 6,144,000 bytes: measured, an 8M chunk never arrived; BENCHMARKS.md). Where records are appended straight into Fluent Bit, Fluent Bit makes the chunks (about 2 MB, as for its own inputs) and the pieces appended are at most 64K, or this if smaller. A single record larger than this is handed over alone. At most `buffer_max_size`; unset, it is 2M or `buffer_max_size` if that is smaller.",
		set: func(c *Config, v string) (err error) {
			c.ChunkMaxSize, err = parseSize(v, 1000)
			return err
		},
		follow: func(c *Config) { c.ChunkMaxSize = min(c.ChunkMaxSize, c.BufferMaxSize) },
	},
	{
		Name: "max_line_size", Type: "size", Default: "1M",
		Description: "Longest line kept whole. Docker cuts lines longer than 16 KiB into chunks; they are merged back into one record up to this size, and a longer line is cut here and flagged `truncated: true`.",
		set: func(c *Config, v string) (err error) {
			c.MaxLineSize, err = parseSize(v, 16*1024)
			return err
		},
	},
	{
		Name: "stream_lifetime", Type: "duration", Default: "60s",
		Description: "How long one log stream of a container is followed before it is reopened exactly where it ended (a stream still catching up is not cut before it delivers), so a stuck daemon-side follower cannot hold a container for long. A reopen costs dockerd about 3 ms of CPU whatever the log's size (BENCHMARKS.md): at 60s, 100 containers cost it 0.5% of a core.",
		set: func(c *Config, v string) (err error) {
			c.StreamLifetime, err = parseDuration(v)
			return err
		},
	},
	{
		Name: "stream_idle_timeout", Type: "duration", Default: "60s",
		Description: "Read deadline on a log stream's connection: a stream silent for this long is reopened (normal for a quiet container, not an error). At most `stream_lifetime`; unset, it is 60s or `stream_lifetime` if that is shorter.",
		set: func(c *Config, v string) (err error) {
			c.StreamIdleTimeout, err = parseDuration(v)
			return err
		},
		follow: func(c *Config) { c.StreamIdleTimeout = min(c.StreamIdleTimeout, c.StreamLifetime) },
	},
	{
		Name: "heartbeat_timeout", Type: "duration", Default: "90s",
		Description: "A task (a container's monitor, the discovery loop) that shows no progress for this long is cancelled and restarted with backoff. More than `stream_lifetime` and `stream_idle_timeout`; unset, it is 90s or 1.5 × `stream_lifetime` if that is longer.",
		set: func(c *Config, v string) (err error) {
			c.HeartbeatTimeout, err = parseDuration(v)
			return err
		},
		follow: func(c *Config) { c.HeartbeatTimeout = max(c.HeartbeatTimeout, c.StreamLifetime*3/2) },
	},
	{
		Name: "db", Type: "string", Default: "",
		Description: "File that keeps, per container and stream, the position of the last record Fluent Bit has taken, so a restart (or a hot reload) resumes exactly there, like tail's `db`. Its directory must exist. Each input needs its own file: inputs sharing one would overwrite each other's positions, so the second is refused at start. Unset: a restart starts again from the time it starts.",
		set: func(c *Config, v string) error {
			c.DB = v
			if v == "" {
				return nil
			}
			if st, err := os.Stat(filepath.Dir(v)); err != nil || !st.IsDir() {
				return errors.New("expected a file path in an existing directory")
			}
			if st, err := os.Stat(v); err == nil && st.IsDir() {
				return errors.New("expected a file path, not a directory")
			}
			return nil
		},
	},
	{
		Name: "db.sync_interval", Type: "duration", Default: "1s",
		Description: "How often the `db` file is written (atomically) while positions change; it is also written at exit. After a crash (SIGKILL), what was taken since the last commit is delivered again.",
		set: func(c *Config, v string) (err error) {
			c.DBSyncInterval, err = parseDuration(v)
			return err
		},
	},
	{
		Name: "db.commit_delay", Type: "duration", Default: "1s",
		Description: "How long after Fluent Bit takes records their positions are committed to `db` (and not while Fluent Bit has paused the input). Fluent Bit first holds them in memory: its main thread moves what inputs appended into chunks every 250 ms (with `storage.type filesystem` they are then on disk), and not while the input is paused. If it is killed (SIGKILL) before that, what it held is gone, so the positions wait: a crash then delivers up to this much again instead of losing it. Measured with real Fluent Bit (`make bench-crash`, 20 SIGKILLs): at `0s` 4,000 lines were lost in 3 of 4 runs, from 250ms up none; 1s leaves four times Fluent Bit's 250 ms for a busy main thread, and repeats after a crash a third of what 2s did. `0ms` commits at once. A clean exit commits everything.",
		set: func(c *Config, v string) (err error) {
			if v == "0" || v == "0s" || v == "0ms" {
				c.DBCommitDelay = 0
				return nil
			}
			c.DBCommitDelay, err = parseDuration(v)
			return err
		},
	},
	{
		Name: "shard", Type: "string", Default: "",
		Description: "`i/n`: collect only the containers whose ID hashes (FNV-1a of the full ID) to shard i of n, so n `docker_logs` inputs (`shard 1/n` ... `shard n/n`, on the same `docker_host`) split a host's containers without overlap or gap, each with its own collect bound. Needs Fluent Bit 4.1 or newer.",
		set: func(c *Config, v string) (err error) {
			c.ShardIndex, c.ShardCount, err = parseShard(v)
			return err
		},
	},
	{
		Name: "plugin_log_level", Type: "enum", Default: "",
		Description: "Deprecated: the plugin's lines go into Fluent Bit's own log (its `log_file`, its format), where the input's `log_level` (or `[SERVICE]`'s) decides, as for Fluent Bit's own inputs; set, this key is ignored there with a warning. Only a host that gives Go plugins no logger (none of Fluent Bit's releases that run this plugin) prints them on stderr, at this level: `error`, `warn`, `info` (unset) or `debug`.",
		set: func(c *Config, v string) (err error) {
			c.PluginLogLevel, err = ParseLevel(v)
			c.PluginLogLevelSet = true
			return err
		},
		follow: func(c *Config) { c.PluginLogLevel = LevelInfo },
	},
	{
		Name: "status_listen", Type: "string", Default: "",
		Description: "Address of the status endpoint (`/health`, `/metrics`), e.g. `2021` or `:2021` (both on 127.0.0.1), `127.0.0.1:2021`, or `0.0.0.0:2021` to be reached from elsewhere. Unset: no endpoint. Each input needs its own port.",
		set: func(c *Config, v string) (err error) {
			c.StatusListen, err = parseListen(v)
			return err
		},
	},
	{
		Name: "status_pprof", Type: "bool", Default: "false",
		Description: "Also serve Go's profiler under `/debug/pprof/` on the status endpoint.",
		set: func(c *Config, v string) (err error) {
			c.StatusPprof, err = parseBool(v)
			return err
		},
	},
}

// DefaultFor returns the default value of a key as it applies now (a
// computed default, such as docker_host's, reads the environment).
func DefaultFor(k Key) string {
	switch k.Name {
	case "docker_host":
		if h := os.Getenv("DOCKER_HOST"); h != "" {
			return h
		}
		return "unix:///var/run/docker.sock"
	case "docker_api_version":
		return os.Getenv("DOCKER_API_VERSION")
	case "docker_tls_verify", "docker_cert_path":
		return "" // resolved with the other TLS keys, from the environment
	case "hostname":
		return "" // asked of the daemon by the engine
	}
	return k.Default
}

// Parse reads every key through g, applies defaults and validates. The
// error joins one message per bad key, each naming the key and the value.
func Parse(g Getter) (Config, error) {
	var c Config
	var errs []error
	var follow []func(*Config) // of the keys left to their default
	for _, k := range Keys {
		v := strings.TrimSpace(g.Get(k.Name))
		source := ""
		if v == "" {
			if k.follow != nil {
				follow = append(follow, k.follow)
			}
			if v = DefaultFor(k); v == "" {
				continue
			}
			source = " (from the default)"
		}
		if err := k.set(&c, v); err != nil {
			errs = append(errs, fmt.Errorf("invalid %s %q%s: %w", k.Name, v, source, err))
		}
	}
	if len(errs) == 0 {
		for _, f := range follow {
			f(&c)
		}
		var tlsErrs []error
		c.TLS, tlsErrs = resolveTLS(c.DockerHost, c.tls)
		errs = append(c.checkOrder(), tlsErrs...)
	}
	return c, errors.Join(errs...)
}

// checkOrder checks the keys that constrain each other. A key left to its
// default has already followed the key it depends on (Key.follow), so an
// error here names a key the user set.
func (c *Config) checkOrder() []error {
	var errs []error
	if c.ChunkMaxSize > c.BufferMaxSize {
		errs = append(errs, fmt.Errorf("invalid chunk_max_size %d: larger than buffer_max_size %d", c.ChunkMaxSize, c.BufferMaxSize))
	}
	// A quiet stream ends at its idle deadline and a busy one at its
	// lifetime; both must come before a heartbeat is missed, or every
	// healthy monitor would be killed.
	if c.OmitFields.Has(FieldLabels) && len(c.Labels) > 0 {
		errs = append(errs, fmt.Errorf("invalid labels: record_fields leaves out labels, so the labels selected would not be carried; add labels to record_fields or unset labels"))
	}
	if c.StreamIdleTimeout > c.StreamLifetime {
		errs = append(errs, fmt.Errorf("invalid stream_idle_timeout %s: longer than stream_lifetime %s", c.StreamIdleTimeout, c.StreamLifetime))
	}
	if c.HeartbeatTimeout <= c.StreamLifetime {
		errs = append(errs, fmt.Errorf("invalid heartbeat_timeout %s: must be longer than stream_lifetime %s", c.HeartbeatTimeout, c.StreamLifetime))
	}
	return errs
}

func parseDockerHost(v string) (string, error) {
	u, err := url.Parse(v)
	if err != nil {
		return "", errors.New("expected unix:///path, tcp://host:port, http://host:port or https://host:port")
	}
	switch u.Scheme {
	case "unix":
		if u.Path == "" {
			return "", errors.New("expected unix:///path/to/docker.sock (the socket path is missing)")
		}
	case "tcp", "http", "https":
		if u.Host == "" {
			return "", fmt.Errorf("expected %s://host:port (the host is missing)", u.Scheme)
		}
	default:
		return "", errors.New("expected a unix://, tcp://, http:// or https:// address")
	}
	return v, nil
}

// parseListen reads a status endpoint address: a port alone, or host:port
// where an empty host is the loopback address (the endpoint is reachable
// from elsewhere only when the user names such an address).
func parseListen(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	if !strings.Contains(v, ":") {
		v = ":" + v
	}
	host, port, err := net.SplitHostPort(v)
	if p, perr := strconv.Atoi(port); err != nil || perr != nil || p < 0 || p > 65535 {
		return "", errors.New("expected a port, or host:port, such as 2021 or 127.0.0.1:2021")
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

func parseShard(v string) (int, int, error) {
	if v == "" {
		return 0, 0, nil
	}
	bad := errors.New("expected i/n with 1 <= i <= n, such as 1/4")
	is, ns, ok := strings.Cut(v, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if !ok || err1 != nil || err2 != nil || i < 1 || n < 1 || i > n || n > 1024 {
		return 0, 0, bad
	}
	return i, n, nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "on", "yes", "1":
		return true, nil
	case "false", "off", "no", "0":
		return false, nil
	}
	return false, errors.New("expected true or false (also on/off, yes/no)")
}

// parseDuration reads a duration in Fluent Bit's forms: a number with a
// unit ms, s, m, h or d ("200ms", "30s", "5m", "1.5h"); a bare number is
// seconds.
func parseDuration(v string) (time.Duration, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	unit := time.Second
	for _, u := range []struct {
		suffix string
		d      time.Duration
	}{{"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}} {
		if strings.HasSuffix(s, u.suffix) {
			s, unit = strings.TrimSuffix(s, u.suffix), u.d
			break
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f <= 0 || f > float64(365*24*time.Hour)/float64(unit) {
		return 0, errors.New("expected a positive duration such as 200ms, 30s, 5m or 1h")
	}
	d := time.Duration(f * float64(unit))
	if d < time.Millisecond {
		return 0, errors.New("expected at least 1ms")
	}
	return d, nil
}

// parseSize reads a size in Fluent Bit's units (flb_utils_size_to_bytes):
// a whole number with an optional K, KB, M, MB, G or GB suffix in any case,
// decimal (1K = 1000). min is the smallest value that makes sense.
func parseSize(v string, min int64) (int64, error) {
	s := strings.ToUpper(v)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KB", 1e3}, {"K", 1e3}, {"MB", 1e6}, {"M", 1e6}, {"GB", 1e9}, {"G", 1e9}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 || n > (1<<50)/mult {
		return 0, errors.New("expected a size such as 512K, 8M or 1G")
	}
	if n*mult < min {
		return 0, fmt.Errorf("expected at least %d bytes", min)
	}
	return n * mult, nil
}
