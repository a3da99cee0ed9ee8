package conf

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseDefaults(t *testing.T) {
	t.Setenv("DOCKER_HOST", "")
	c, err := Parse(Map{})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{DockerHost: "unix:///var/run/docker.sock", BufferMaxSize: 4e6, ChunkMaxSize: 2e6, MaxLineSize: 1e6,
		StreamLifetime: time.Minute, StreamIdleTimeout: time.Minute, HeartbeatTimeout: 90 * time.Second, DBSyncInterval: time.Second, DBCommitDelay: time.Second,
		PluginLogLevel: LevelInfo, Source: SourceAuto}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults = %+v, want %+v", c, want)
	}
	t.Setenv("DOCKER_HOST", "tcp://10.0.0.1:2375")
	if c, _ := Parse(Map{}); c.DockerHost != "tcp://10.0.0.1:2375" {
		t.Fatalf("docker_host from DOCKER_HOST = %q", c.DockerHost)
	}
	if c, _ := Parse(Map{"docker_host": "unix:///x.sock"}); c.DockerHost != "unix:///x.sock" {
		t.Fatalf("docker_host key over DOCKER_HOST = %q", c.DockerHost)
	}
}

func TestParseValues(t *testing.T) {
	c, err := Parse(Map{
		"Docker_Host": " https://docker.example:2376 ", "READ_FROM_HEAD": "On",
		"buffer_max_size": "16m", "chunk_max_size": "512KB", "plugin_log_level": "DEBUG",
		"max_line_size": "64k", "stream_lifetime": "200ms", "stream_idle_timeout": "0.1s", "heartbeat_timeout": "5",
		"db": "/tmp/docker_logs.db", "DB.Sync_Interval": "250ms", "shard": "2/4",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{DockerHost: "https://docker.example:2376", TLS: &TLS{Verify: true}, ReadFromHead: true, BufferMaxSize: 16e6, ChunkMaxSize: 512e3,
		MaxLineSize: 64e3, StreamLifetime: 200 * time.Millisecond, StreamIdleTimeout: 100 * time.Millisecond, HeartbeatTimeout: 5 * time.Second,
		DB: "/tmp/docker_logs.db", DBSyncInterval: 250 * time.Millisecond, DBCommitDelay: time.Second, ShardIndex: 2, ShardCount: 4, PluginLogLevel: LevelDebug, PluginLogLevelSet: true, Source: SourceAuto}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v, want %+v", c, want)
	}
}

// Every bad value is reported at once, each message naming its key and
// quoting the value.
func TestParseReportsEveryBadKey(t *testing.T) {
	_, err := Parse(Map{
		"docker_host": "ftp://x", "read_from_head": "maybe", "buffer_max_size": "8Q",
		"chunk_max_size": "-1", "plugin_log_level": "loud", "db": "/nonexistent-dir/x.db", "labels": "app,/[/",
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`invalid docker_host "ftp://x"`, `invalid read_from_head "maybe"`, `invalid buffer_max_size "8Q"`,
		`invalid chunk_max_size "-1"`, `invalid plugin_log_level "loud"`, `invalid db "/nonexistent-dir/x.db"`,
		`invalid labels "app,/[/": bad regular expression /[/`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 7 {
		t.Errorf("%d lines, want 7:\n%v", n, err)
	}
}

// The timeouts must nest: idle <= lifetime < heartbeat; an inverted set
// fails, naming the keys.
func TestParseTimeoutOrder(t *testing.T) {
	cases := []struct {
		kv   Map
		want string
	}{
		{Map{"stream_idle_timeout": "3m"}, "invalid stream_idle_timeout 3m0s: longer than stream_lifetime 1m0s"},
		{Map{"heartbeat_timeout": "1m"}, "invalid heartbeat_timeout 1m0s: must be longer than stream_lifetime 1m0s"},
		{Map{"stream_lifetime": "10m", "heartbeat_timeout": "90s"}, "invalid heartbeat_timeout 1m30s: must be longer than stream_lifetime 10m0s"},
		{Map{"chunk_max_size": "5M"}, "invalid chunk_max_size 5000000: larger than buffer_max_size 4000000"},
	}
	for _, c := range cases {
		if _, err := Parse(c.kv); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want %q", c.kv, err, c.want)
		}
	}
	if _, err := Parse(Map{"stream_lifetime": "30s", "stream_idle_timeout": "30s", "heartbeat_timeout": "31s"}); err != nil {
		t.Errorf("a valid nesting was refused: %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	cases := map[string]time.Duration{"200ms": 200 * time.Millisecond, "30s": 30 * time.Second, "5m": 5 * time.Minute,
		"1.5h": 90 * time.Minute, "2d": 48 * time.Hour, "45": 45 * time.Second, "2M": 2 * time.Minute}
	for in, want := range cases {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "s", "-1s", "0", "1w", "abc", "0.1ms", "1e9d"} {
		if _, err := parseDuration(bad); err == nil {
			t.Errorf("parseDuration(%q) accepted", bad)
		}
	}
}

func TestDockerHost(t *testing.T) {
	for _, ok := range []string{"unix:///var/run/docker.sock", "tcp://127.0.0.1:2375", "http://h:1", "https://h:2376"} {
		if _, err := parseDockerHost(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "unix://", "tcp://", "/var/run/docker.sock", "ftp://h", "::"} {
		if _, err := parseDockerHost(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseShard(t *testing.T) {
	for _, bad := range []string{"0/4", "5/4", "2/x", "x/2", "2", "/4", "1/0", "-1/4"} {
		if _, err := Parse(Map{"shard": bad}); err == nil || !strings.Contains(err.Error(), "invalid shard") {
			t.Errorf("shard %q: err = %v", bad, err)
		}
	}
	if c, err := Parse(Map{"shard": "4/4"}); err != nil || c.ShardIndex != 4 || c.ShardCount != 4 {
		t.Errorf("shard 4/4: %+v, %v", c, err)
	}
}

func TestParseSize(t *testing.T) {
	cases := map[string]int64{"1000": 1000, "32k": 32e3, "32KB": 32e3, "8M": 8e6, "8mb": 8e6, "1G": 1e9, "2 M": 2e6}
	for in, want := range cases {
		if got, err := parseSize(in, 0); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "M", "1.5M", "-1", "1T", "99999999999G"} {
		if _, err := parseSize(bad, 0); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
	if _, err := parseSize("10", 1000); err == nil {
		t.Error("a size under the minimum was accepted")
	}
}

// No key may be one Fluent Bit consumes for every input.
func TestNoReservedKeys(t *testing.T) {
	reserved := []string{"alias", "tag", "log_level", "log_suppress_interval", "mem_buf_limit", "routable",
		"threaded", "storage.type", "storage.pause_on_chunks_overlimit", "rate_window", "host", "port", "listen", "ipv6", "tls"}
	for _, k := range Keys {
		for _, r := range reserved {
			if k.Name == r || strings.HasPrefix(k.Name, "tls.") || strings.HasPrefix(k.Name, "thread.ring_buffer") || strings.HasPrefix(k.Name, "rate_gate") {
				t.Errorf("key %s is reserved by Fluent Bit", k.Name)
			}
		}
	}
}

// Filter decisions: includes must all hold, any exclude wins, and a
// container can opt out.
func TestFilterSelects(t *testing.T) {
	type ctr struct {
		name, image string
		labels      map[string]string
	}
	web := ctr{"web-1", "nginx:1.27", map[string]string{"tier": "front", "com.docker.compose.project": "shop"}}
	db := ctr{"db", "registry.local/pg/postgres:16", map[string]string{"tier": "back"}}
	job := ctr{"nightly-job", "busybox", map[string]string{"docker_logs.exclude": "true"}}
	cases := []struct {
		keys Map
		want []string // names selected among web, db, job
	}{
		{Map{}, []string{"web-1", "db"}},
		{Map{"include_names": "web-*"}, []string{"web-1"}},
		{Map{"include_names": "/^(web|db)/"}, []string{"web-1", "db"}},
		{Map{"exclude_names": "db, web-?"}, nil},
		{Map{"include_labels": "tier"}, []string{"web-1", "db"}},
		{Map{"include_labels": "tier=fr*"}, []string{"web-1"}},
		{Map{"include_labels": "tier, com.docker.compose.project=shop"}, []string{"web-1"}},
		{Map{"exclude_labels": "tier=back"}, []string{"web-1"}},
		{Map{"include_images": "registry.local/*"}, []string{"db"}},
		{Map{"exclude_images": "nginx:*"}, []string{"db"}},
		{Map{"include_names": "*", "exclude_labels": "tier=front"}, []string{"db"}},
	}
	for _, c := range cases {
		cfg, err := Parse(c.keys)
		if err != nil {
			t.Fatalf("%v: %v", c.keys, err)
		}
		var got []string
		for _, x := range []ctr{web, db, job} {
			if cfg.Filter.Selects(x.name, x.image, x.labels) {
				got = append(got, x.name)
			}
		}
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%v selects %v, want %v", c.keys, got, c.want)
		}
	}
	cfg, _ := Parse(Map{"include_labels": "a, b=c, d=e*"})
	if got := strings.Join(cfg.Filter.APILabelFilters(), " "); got != "a b=c" {
		t.Errorf("API label filters %q, want only the ones without globs", got)
	}
	for _, bad := range []Map{{"include_names": "/([/"}, {"exclude_labels": "=x"}} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// A comma inside a /regular expression/ belongs to it: lists split only
// at commas outside /.../ items.
func TestFilterRegexWithComma(t *testing.T) {
	cfg, err := Parse(Map{"include_names": "/a{1,3}/"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(cfg.Filter.IncludeNames); n != 1 {
		t.Fatalf("/a{1,3}/ gives %d patterns, want 1", n)
	}
	if !cfg.Filter.Selects("aaa", "img", nil) || cfg.Filter.Selects("b", "img", nil) {
		t.Errorf("/a{1,3}/ must select aaa and not b")
	}
	cases := map[string][]string{
		"web*, /a{1,3}/, db":  {"web*", "/a{1,3}/", "db"},
		"/a{1,3}/":            {"/a{1,3}/"},
		"/x,y/,/^(p|q){2,}$/": {"/x,y/", "/^(p|q){2,}$/"},
		"a,,b , ":             {"a", "b"},
		"/a\\/b,c/, d":        {"/a\\/b,c/", "d"},
		"a/b, c/d":            {"a/b", "c/d"},
		"/a\\/,b/, c":         {"/a\\/,b/", "c"}, // an escaped / does not close
		"/abc, d":             {"/abc", "d"},     // never closed: split as before
	}
	for in, want := range cases {
		if got := splitList(in); !reflect.DeepEqual(got, want) {
			t.Errorf("splitList(%q) = %q, want %q", in, got, want)
		}
	}
}

// A key whose default is bounded by another key follows that key when it
// is not set itself, so setting one key alone never fails on a default;
// set explicitly, an inconsistent value still fails, naming it.
func TestParseDefaultsFollowTheirBound(t *testing.T) {
	c, err := Parse(Map{"stream_lifetime": "200ms"})
	if err != nil {
		t.Fatalf("stream_lifetime alone: %v", err)
	}
	if c.StreamIdleTimeout != 200*time.Millisecond {
		t.Errorf("stream_idle_timeout = %s, want stream_lifetime's 200ms", c.StreamIdleTimeout)
	}
	if c, err := Parse(Map{"stream_lifetime": "5m"}); err != nil || c.StreamIdleTimeout != time.Minute || c.HeartbeatTimeout <= 5*time.Minute {
		t.Errorf("stream_lifetime 5m alone: idle %s, heartbeat %s, %v; want idle 1m0s and heartbeat over 5m0s", c.StreamIdleTimeout, c.HeartbeatTimeout, err)
	}
	if c, err := Parse(Map{"buffer_max_size": "1M"}); err != nil || c.ChunkMaxSize != 1e6 {
		t.Errorf("buffer_max_size 1M alone: chunk_max_size %d, %v; want 1000000", c.ChunkMaxSize, err)
	}
	for _, bad := range []struct {
		kv   Map
		want string
	}{
		{Map{"stream_lifetime": "200ms", "stream_idle_timeout": "1s"}, "invalid stream_idle_timeout 1s: longer than stream_lifetime 200ms"},
		{Map{"stream_lifetime": "5m", "heartbeat_timeout": "2m"}, "invalid heartbeat_timeout 2m0s: must be longer than stream_lifetime 5m0s"},
		{Map{"buffer_max_size": "1M", "chunk_max_size": "2M"}, "invalid chunk_max_size 2000000: larger than buffer_max_size 1000000"},
	} {
		if _, err := Parse(bad.kv); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: err = %v, want %q", bad.kv, err, bad.want)
		}
	}
}

// tag_template names only the fields it can expand, and expands them.
func TestTagTemplate(t *testing.T) {
	for _, c := range []struct{ v, want string }{
		{"docker.{container_name}", ""},
		{"{compose_project}.{compose_service}.{short_id}", ""},
		{"plain", ""},
		{"docker.{name}", "unknown field {name}"},
		{"docker.{container_name", "'{' without its '}'"},
		{"docker.}", "'}' without its '{'"},
		{"docker.*", "'*'"},
	} {
		_, err := Parse(Map{"tag_template": c.v})
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), "invalid tag_template") || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("tag_template %q: err = %v, want %q", c.v, err, c.want)
		}
	}
	cfg, err := Parse(Map{"tag_template": "d.{container_name}.{compose_service}-"})
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{"container_name": "web", "compose_service": ""}
	if got := cfg.TagTemplate.Expand(func(f string) string { return fields[f] }); got != "d.web.-" {
		t.Fatalf("expanded %q, want d.web.-", got)
	}
}

// record_fields chooses the fields records carry; the labels key needs the
// labels field.
func TestRecordFields(t *testing.T) {
	c, err := Parse(Map{"record_fields": " container_name , log_wrong"})
	if err == nil || !strings.Contains(err.Error(), `invalid record_fields`) || !strings.Contains(err.Error(), `unknown field "log_wrong"`) {
		t.Fatalf("err = %v", err)
	}
	if c, err = Parse(Map{"record_fields": "container_name, image"}); err != nil {
		t.Fatal(err)
	}
	if want := AllFields &^ (FieldContainerName | FieldImage); c.OmitFields != want {
		t.Fatalf("omitted %b, want %b", c.OmitFields, want)
	}
	if c, err = Parse(Map{}); err != nil || c.OmitFields != 0 {
		t.Fatalf("by default %b are omitted (%v), want none", c.OmitFields, err)
	}
	if _, err = Parse(Map{"record_fields": "container_id", "labels": "app"}); err == nil || !strings.Contains(err.Error(), "record_fields leaves out labels") {
		t.Fatalf("labels without the labels field: err = %v", err)
	}
}

func TestSourceAndDataRoot(t *testing.T) {
	c, err := Parse(Map{"source": "File", "docker_data_root": "/var/lib/docker:/host/docker/"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Source != SourceFile {
		t.Errorf("source = %s, want file", c.Source)
	}
	for path, want := range map[string]string{
		"/var/lib/docker/containers/abc/abc-json.log": "/host/docker/containers/abc/abc-json.log",
		"/var/lib/dockerx/a.log":                      "/var/lib/dockerx/a.log", // not under the data-root
		"/elsewhere/a.log":                            "/elsewhere/a.log",
	} {
		if got := c.LogPath(path); got != want {
			t.Errorf("LogPath(%s) = %s, want %s", path, got, want)
		}
	}
	if c, _ := Parse(Map{}); c.Source != SourceAuto || c.LogPath("/a/b") != "/a/b" {
		t.Errorf("defaults: source %s, LogPath %s", c.Source, c.LogPath("/a/b"))
	}
}

// A Tag holding '*' stands for a template with the container's name in its
// place; a Tag without one, or one that cannot be a tag template, for none.
func TestWildcardTagTemplate(t *testing.T) {
	name := func(f string) string { return map[string]string{"container_name": "web-1"}[f] }
	for tag, want := range map[string]string{
		"docker.*":   "docker.web-1",
		"*":          "web-1",
		"k8s.*.logs": "k8s.web-1.logs",
		"a*b*":       "aweb-1bweb-1",
	} {
		tmpl := WildcardTagTemplate(tag)
		if tmpl == nil || tmpl.Expand(name) != want {
			t.Errorf("Tag %q: %v, want %q", tag, tmpl, want)
		}
	}
	for _, tag := range []string{"", "docker.logs", "docker.{container_name}*", "a b*"} {
		if tmpl := WildcardTagTemplate(tag); tmpl != nil {
			t.Errorf("Tag %q: a template %v, want none", tag, tmpl)
		}
	}
}
