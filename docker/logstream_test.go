package docker

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A log stream: a followed body that never ends closes at once (closing
// must not drain it), and a non-200 answer becomes the error the engine
// tells apart (gone, unreadable) with the daemon's message.
func TestLogStream(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1.41/containers/endless/logs", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("follow") != "1" || r.URL.Query().Get("timestamps") != "1" || r.URL.Query().Get("tail") != "5" {
			http.Error(w, "bad query "+r.URL.RawQuery, 400)
			return
		}
		frame := []byte("\x01\x00\x00\x00\x00\x00\x00\x24" + "2026-11-28T14:00:00.000000001Z line\n")
		for r.Context().Err() == nil {
			if _, err := w.Write(frame); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			time.Sleep(time.Millisecond)
		}
	})
	for path, status := range map[string]int{"gone": 404, "none-driver": 501, "broken": 500} {
		mux.HandleFunc("/v1.41/containers/"+path+"/logs", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"message":"%s says %d"}`, path, status)
		})
	}
	c := fakeDaemon(t, mux, 5*time.Second)
	ctx := context.Background()
	body, err := c.Logs(ctx, "endless", LogsOptions{Follow: true, Tail: 5})
	if err != nil {
		t.Fatal(err)
	}
	lr := NewLogReader(body, false, 1<<20)
	for i := 0; i < 10; i++ {
		if e, err := lr.Next(); err != nil || string(e.Line) != "line" {
			t.Fatalf("entry %d: %+v %v", i, e, err)
		}
	}
	closed := make(chan struct{})
	go func() { body.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
		t.Fatal("closing a followed stream blocked (drained it?)")
	}

	for id, is := range map[string]func(error) bool{"gone": IsGone, "none-driver": IsUnreadable} {
		if _, err := c.Logs(ctx, id, LogsOptions{}); !is(err) {
			t.Errorf("%s: %v not recognised", id, err)
		}
	}
	if _, err := c.Logs(ctx, "broken", LogsOptions{}); err == nil || IsGone(err) || IsUnreadable(err) || !strings.Contains(err.Error(), "broken says 500") {
		t.Errorf("broken: %v", err)
	}
}
