package engine

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/docker-logs/docker_logs/docker"
)

// statusServer is an engine's status endpoint (status_listen): /health,
// /metrics and, with status_pprof, /debug/pprof/.
type statusServer struct {
	srv  *http.Server
	addr string // as bound (a port 0 resolved)
	done chan struct{}
}

// StatusAddr is the status endpoint's bound address, "" without one.
func (e *Engine) StatusAddr() string {
	if e.status == nil {
		return ""
	}
	return e.status.addr
}

// Health is the /health document.
type Health struct {
	Status string `json:"status"` // "ok" or "unhealthy"
	Input  string `json:"input"`
	Daemon struct {
		Host      string `json:"host"`
		Reachable bool   `json:"reachable"`
	} `json:"daemon"`
	// Delivery is how records reach Fluent Bit: "append" (straight in,
	// flb_input_log_append) or "collect" (one buffer per collect).
	Delivery       string         `json:"delivery"`
	RefusedAppends int64          `json:"refused_appends"`
	Problems       []string       `json:"problems,omitempty"`
	Tasks          []TaskStatus   `json:"tasks"`
	Counts         map[string]int `json:"counts"`
	// Sources counts the containers by where their lines are read from
	// (source): "api", "file".
	Sources map[string]int `json:"sources"`
}

// Health reports the engine's tasks, and whether all is well: the daemon
// answers and no task has missed its heartbeat (one silent for longer than
// heartbeat_timeout, or being restarted because it was).
func (e *Engine) Health() Health {
	var h Health
	h.Input = e.name
	h.Daemon.Host = docker.HostLabel(e.cfg.DockerHost)
	h.Daemon.Reachable = e.daemonUp.Load()
	h.Delivery, h.RefusedAppends = e.Delivery(), e.stats.RefusedAppends.Load()
	if !h.Daemon.Reachable {
		h.Problems = append(h.Problems, "the daemon cannot be reached")
	}
	h.Counts = map[string]int{}
	now := time.Now()
	h.Tasks = e.Status()
	for _, t := range h.Tasks {
		h.Counts[string(t.State)]++
		switch {
		case t.State == TaskRunning && now.Sub(t.LastHeartbeat) > e.cfg.HeartbeatTimeout:
			h.Problems = append(h.Problems, t.Name+": no heartbeat for "+now.Sub(t.LastHeartbeat).Round(time.Second).String())
		case t.State == TaskRestarting && t.LastError == errMissedHeartbeat.Error():
			h.Problems = append(h.Problems, t.Name+": missed its heartbeat; restarting")
		}
	}
	h.Sources = map[string]int{}
	e.mu.Lock()
	for _, m := range e.monitors {
		h.Sources[m.sourceName()]++
	}
	e.mu.Unlock()
	h.Status = "ok"
	if len(h.Problems) > 0 {
		h.Status = "unhealthy"
	}
	return h
}

// serveStatus starts the status endpoint on status_listen. It fails when
// the address cannot be bound, before anything is served.
func (e *Engine) serveStatus() error {
	ln, err := net.Listen("tcp", e.cfg.StatusListen)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		h := e.Health()
		w.Header().Set("Content-Type", "application/json")
		if h.Status != "ok" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(h)
	})
	mux.Handle("/metrics", promhttp.HandlerFor(e.metrics.registry(), promhttp.HandlerOpts{}))
	if e.cfg.StatusPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	s := &statusServer{addr: ln.Addr().String(), done: make(chan struct{})}
	s.srv = &http.Server{Handler: recoverHandler(e.log, mux), ReadHeaderTimeout: 10 * time.Second}
	e.status = s
	go func() {
		defer close(s.done)
		defer func() {
			if r := recover(); r != nil {
				e.log.Errorf("status endpoint panicked: %v\n%s", r, debug.Stack())
			}
		}()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Errorf("status endpoint on %s: %v", ln.Addr(), err)
		}
	}()
	e.log.Infof("status endpoint on http://%s (/health, /metrics%s)", ln.Addr(), map[bool]string{true: ", /debug/pprof/"}[e.cfg.StatusPprof])
	return nil
}

// stop closes the endpoint and waits for its goroutines.
func (s *statusServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if s.srv.Shutdown(ctx) != nil {
		s.srv.Close()
	}
	<-s.done
}

// recoverHandler keeps a panic in a handler from reaching Fluent Bit
// (net/http recovers it too, but logs it its own way).
func recoverHandler(log *Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil && v != http.ErrAbortHandler {
				log.Errorf("status endpoint: %s %s panicked: %v\n%s", r.Method, r.URL.Path, v, debug.Stack())
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		h.ServeHTTP(w, r)
	})
}
