package docker

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// The client dials the configured unix socket itself (the transport hands
// the dialer "<path>:80"), and its streams carry the idle read deadline.
func TestClientDialsUnixSocketWithIdleDeadline(t *testing.T) {
	mux := http.NewServeMux()
	stall := make(chan struct{})
	mux.HandleFunc("/v1.41/containers/abc/logs", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-stall // headers, then silence
	})
	defer close(stall)
	c := fakeDaemon(t, mux, 200*time.Millisecond)
	ctx := context.Background()
	body, err := c.Logs(ctx, "abc", LogsOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	start := time.Now()
	_, err = body.Read(make([]byte, 10))
	if !IsTimeout(err) {
		t.Fatalf("read of a silent stream: %v, want an idle timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("idle deadline took %s", d)
	}
}

// fakeDaemon serves mux, plus /_ping at API 1.41, on a unix socket until
// the test ends, and returns a pinged client of it.
func fakeDaemon(t *testing.T, mux *http.ServeMux, idle time.Duration) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("API-Version", "1.41")
		w.Write([]byte("OK"))
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	c, err := New(Options{Host: "unix://" + sock, StreamIdleTimeout: idle})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()); err != nil {
		t.Fatalf("ping over the unix socket: %v", err)
	}
	return c
}
