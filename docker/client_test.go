package docker

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"sync"
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

// Reconnects negotiate the API version again while requests are under way,
// and never race with them (run with -race).
func TestClientRenegotiatesWithoutRace(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1.41/containers/abc/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"Id":"abc","Name":"/app","Config":{"Image":"img"},"State":{"Running":true}}`))
	})
	c := fakeDaemon(t, mux, time.Second)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if info, err := c.Inspect(ctx, "abc"); err != nil || info.Name != "app" {
					t.Errorf("inspect: %v %+v", err, info)
					return
				}
			}
		}()
	}
	for range 50 {
		c.connected.Store(false) // as after a failed ping or a lost events stream
		if err := c.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		if v := c.ctl().ClientVersion(); v != "1.41" {
			t.Fatalf("negotiated %q, want 1.41", v)
		}
	}
	wg.Wait()
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
