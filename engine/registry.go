package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/docker-logs/docker_logs/conf"
	"github.com/docker-logs/docker_logs/docker"
)

// Registry holds the instances living in one process (one loaded .so),
// found by the integer token the shim stores in Fluent Bit's context: no Go
// pointer ever goes to C.
type Registry struct {
	// NewAPI makes the Docker client of an instance (tests replace it).
	NewAPI func(conf.Config) (docker.API, error)

	mu sync.Mutex
	// appends: the host exports flb_input_log_append (records may carry
	// their own tags).
	appends       bool
	inits         int // instances initialised so far, for their names
	next          uintptr
	byToken       map[uintptr]*Engine
	dbs           map[uintptr]string // each instance's db as dbKey resolved it
	shardsChecked bool
}

// ErrNeedsCtx refuses a second instance on a Fluent Bit without the
// per-instance callbacks.
var ErrNeedsCtx = errors.New("multiple docker_logs instances need Fluent Bit 4.1 or newer (this Fluent Bit passes no instance context to Go inputs)")

// SetAppends says whether the host process exports flb_input_log_append.
func (r *Registry) SetAppends(ok bool) {
	r.mu.Lock()
	r.appends = ok
	r.mu.Unlock()
}

// Host is what the plugin learned from Fluent Bit about an instance at
// its Init.
type Host struct {
	// HasCtx says Fluent Bit will pass the token back to the collect
	// callback; without it only one instance can be told apart.
	HasCtx bool
	// Name is the instance's name as Fluent Bit shows it (its alias, or
	// docker_logs.N); "" when the host does not say.
	Name string
	// LogLevel is the instance's log_level when Fluent Bit's logger takes
	// the plugin's lines (LevelOff: none); nil: lines go to stderr at
	// plugin_log_level.
	LogLevel *conf.Level
	// Tag is the instance's Tag when the host can tell it ("" if not):
	// a '*' in it expands per container (conf.WildcardTagTemplate).
	Tag string
}

// InitError is why an instance could not start: every bad key, one a line.
type InitError struct {
	Instance string
	Err      error
}

// Error is the lines as Fluent Bit prints them on stderr.
func (e *InitError) Error() string {
	var b strings.Builder
	for _, line := range e.Lines() {
		b.WriteString(FormatLine(conf.LevelError, e.Instance, line))
	}
	return b.String()
}

// Lines are the messages, one a line, without prefix.
func (e *InitError) Lines() []string { return strings.Split(e.Err.Error(), "\n") }

func (e *InitError) Unwrap() error { return e.Err }

// Init parses an instance's configuration, starts its engine, and returns
// its token (never 0). The error (an *InitError) names every bad key.
func (r *Registry) Init(g conf.Getter, h Host) (uintptr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := h.Name
	if name == "" {
		name = fmt.Sprintf("docker_logs.%d", r.inits)
	}
	r.inits++
	fail := func(err error) (uintptr, error) {
		return 0, &InitError{Instance: name, Err: err}
	}
	hasCtx := h.HasCtx
	if !hasCtx && len(r.byToken) > 0 {
		return fail(ErrNeedsCtx)
	}
	cfg, err := conf.Parse(g)
	if err != nil {
		return fail(err)
	}
	if err := r.checkShardLocked(cfg, hasCtx); err != nil {
		return fail(err)
	}
	var tagNote string // said once the instance's logger is up
	if wild := conf.WildcardTagTemplate(h.Tag); wild != nil {
		switch {
		case cfg.TagTemplate != nil:
			tagNote = fmt.Sprintf("Tag %s: tag_template is set too, and wins: records are tagged by it", h.Tag)
		case !r.appends:
			tagNote = fmt.Sprintf("Tag %s is not expanded per container: this Fluent Bit does not export flb_input_log_append, so records go through one collect buffer under the Tag as written", h.Tag)
		default:
			cfg.TagTemplate = wild
			tagNote = fmt.Sprintf("Tag %s: each container's records are tagged with its name in place of '*'", h.Tag)
		}
	}
	if cfg.TagTemplate != nil && !r.appends {
		return fail(errors.New("invalid tag_template: this Fluent Bit does not export flb_input_log_append, so records cannot carry tags of their own (they go through one collect buffer under the input's Tag); remove tag_template, or use a fluent-bit executable built with its symbols exported, as the project's packages are"))
	}
	db, err := r.checkDBLocked(cfg, name)
	if err != nil {
		return fail(err)
	}
	newAPI := r.NewAPI
	if newAPI == nil {
		newAPI = func(c conf.Config) (docker.API, error) { return NewClient(c) }
	}
	api, err := newAPI(cfg)
	if err != nil {
		return fail(fmt.Errorf("invalid docker_host %q: %w", cfg.DockerHost, err))
	}
	log := NewLogger(name, cfg.PluginLogLevel)
	if h.LogLevel != nil {
		log.Queue(*h.LogLevel)
	}
	e := New(cfg, name, api, log)
	if err := e.Start(); err != nil {
		api.Close()
		return fail(err)
	}
	if r.byToken == nil {
		r.byToken = map[uintptr]*Engine{}
	}
	r.next++
	r.byToken[r.next] = e
	if db != "" {
		if r.dbs == nil {
			r.dbs = map[uintptr]string{}
		}
		r.dbs[r.next] = db
	}
	r.setMemoryLimitLocked()
	log.Infof("started, reading from docker at %s", docker.HostLabel(cfg.DockerHost))
	if tagNote != "" {
		log.Infof("%s", tagNote)
	}
	if h.LogLevel != nil && cfg.PluginLogLevelSet {
		log.Warnf("plugin_log_level is deprecated and ignored here: this Fluent Bit takes the plugin's lines into its own log, where the input's log_level (or [SERVICE] log_level) decides; remove plugin_log_level")
	}
	return r.next, nil
}

// setMemoryLimitLocked gives the plugin's Go runtime a soft memory limit
// from what its instances may hold: their buffers, twice (a collect's
// copy), plus room for the monitors. Without it the heap may grow to twice
// what is live before a collection (GOGC), which with many containers is
// most of the plugin's RSS (make bench-scale, P4). A GOMEMLIMIT set by the
// user wins.
func (r *Registry) setMemoryLimitLocked() {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limit := int64(memoryLimitBase)
	for _, e := range r.byToken {
		limit += 2 * e.cfg.BufferMaxSize
	}
	debug.SetMemoryLimit(limit)
}

// memoryLimitBase is the part of the memory limit for everything but the
// buffers (500 followed containers live in about 25 MiB).
const memoryLimitBase = 32 << 20

// checkShardLocked checks a sharded instance against the others on the
// same daemon in this process: one total, each index once.
func (r *Registry) checkShardLocked(cfg conf.Config, hasCtx bool) error {
	if cfg.ShardCount == 0 {
		return nil
	}
	if !hasCtx {
		return fmt.Errorf("invalid shard %d/%d: sharding takes several docker_logs instances, which need Fluent Bit 4.1 or newer", cfg.ShardIndex, cfg.ShardCount)
	}
	for _, e := range r.byToken {
		o := e.cfg
		if o.ShardCount == 0 || o.DockerHost != cfg.DockerHost {
			continue
		}
		if o.ShardCount != cfg.ShardCount {
			return fmt.Errorf("invalid shard %d/%d: instance %s on the same docker_host has shard %d/%d; all shards of a daemon need the same total", cfg.ShardIndex, cfg.ShardCount, e.name, o.ShardIndex, o.ShardCount)
		}
		if o.ShardIndex == cfg.ShardIndex {
			return fmt.Errorf("invalid shard %d/%d: instance %s on the same docker_host already has it; each index once", cfg.ShardIndex, cfg.ShardCount, e.name)
		}
	}
	return nil
}

// checkDBLocked refuses a db that another instance of this process already
// keeps its positions in: each instance saves only its own containers, so
// two instances sharing a file would overwrite each other's positions (two
// shards of one daemon would each leave the file with only theirs). It
// returns the db's resolved path ("" without db) for the registry to keep.
func (r *Registry) checkDBLocked(cfg conf.Config, name string) (string, error) {
	if cfg.DB == "" {
		return "", nil
	}
	db, err := dbKey(cfg.DB)
	if err != nil {
		return "", fmt.Errorf("invalid db %q: %w", cfg.DB, err)
	}
	for tok, other := range r.dbs {
		if other == db {
			o := r.byToken[tok].name
			return "", fmt.Errorf("invalid db %q: instance %s already keeps its positions in %s; inputs sharing a db overwrite each other's positions, so give %s and %s each a db file of its own",
				cfg.DB, o, db, o, name)
		}
	}
	return db, nil
}

// dbKey is the path that tells two db settings apart: absolute and clean,
// with the symbolic links of its directory resolved when it exists (the
// file itself is replaced by each save, a link to it would not last).
func dbKey(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	abs = filepath.Clean(abs)
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(dir, filepath.Base(abs))
	}
	return abs, nil
}

// CheckShards says, once all instances are initialised, which shards no
// instance takes: the containers hashed to them would not be collected.
func (r *Registry) CheckShards() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shardsChecked {
		return
	}
	r.shardsChecked = true
	type group struct {
		count int
		taken map[int]bool
		log   *Logger
	}
	groups := map[string]*group{}
	for _, e := range r.byToken {
		if e.cfg.ShardCount == 0 {
			continue
		}
		g := groups[e.cfg.DockerHost]
		if g == nil {
			g = &group{count: e.cfg.ShardCount, taken: map[int]bool{}, log: e.log}
			groups[e.cfg.DockerHost] = g
		}
		g.taken[e.cfg.ShardIndex] = true
	}
	for host, g := range groups {
		for i := 1; i <= g.count; i++ {
			if !g.taken[i] {
				g.log.Errorf("no docker_logs instance has shard %d/%d on %s: the containers hashed to it are not collected", i, g.count, docker.HostLabel(host))
			}
		}
	}
}

// Lookup finds an instance by token. Token 0 comes from the plain
// callbacks, which only a single instance uses.
func (r *Registry) Lookup(token uintptr) *Engine {
	r.mu.Lock()
	defer r.mu.Unlock()
	if token == 0 && len(r.byToken) == 1 {
		for _, e := range r.byToken {
			return e
		}
	}
	return r.byToken[token]
}

// ForEach calls fn for every instance.
func (r *Registry) ForEach(fn func(*Engine)) {
	r.mu.Lock()
	engines := make([]*Engine, 0, len(r.byToken))
	for _, e := range r.byToken {
		engines = append(engines, e)
	}
	r.mu.Unlock()
	for _, e := range engines {
		fn(e)
	}
}

// StopAll stops every instance (in parallel, each bounded) and forgets
// them. Fluent Bit calls Exit once per instance, without saying which, so
// the first call does it all and the rest find nothing.
func (r *Registry) StopAll() {
	r.mu.Lock()
	engines := r.byToken
	r.byToken = nil
	r.dbs = nil // a stopped instance frees its db
	r.inits = 0 // a hot reload numbers its new instances from 0, as Fluent Bit does
	r.shardsChecked = false
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil { // a panic here would end Fluent Bit
					e.log.Errorf("stopping: panicked: %v\n%s", r, debug.Stack())
				}
			}()
			e.Stop()
		}()
	}
	wg.Wait()
}
