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
	sock := filepath.Join(t.TempDir(), "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("API-Version", "1.41")
		w.Write([]byte("OK"))
	})
	stall := make(chan struct{})
	mux.HandleFunc("/v1.41/containers/abc/logs", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-stall // headers, then silence
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	defer srv.Close()
	defer close(stall)

	c, err := New(Options{Host: "unix://" + sock, StreamIdleTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("ping over the unix socket: %v", err)
	}
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
