package docker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// stdoutLine is a line's stdout frame, with its timestamp.
func stdoutLine(line string) []byte {
	return frame(1, "2026-11-28T14:00:00.000000001Z "+line+"\n")
}

// pollConnOf is the pollConn under a plain stream's body.
func pollConnOf(t *testing.T, body any) *pollConn {
	t.Helper()
	sb, ok := body.(*streamBody)
	if !ok {
		t.Fatalf("the body is a %T", body)
	}
	pc, ok := sb.conn.(*pollConn)
	if !ok {
		t.Fatalf("a plain stream read through a %T", sb.conn)
	}
	return pc
}

// serveLines answers a logs request with lines line(1) ... line(n), one
// write each as dockerd writes them, one every every (spinning: a sleep is
// coarser; 0: as fast as the socket takes them).
func serveLines(n int, every time.Duration, line func(int) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		for i := 1; i <= n; i++ {
			for time.Since(start) < time.Duration(i)*every {
			}
			if _, err := w.Write(stdoutLine(line(i))); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}
}

// followLines follows container id's log and checks that it brings line(1)
// ... line(n), in order; it returns the stream's pollConn.
func followLines(t *testing.T, c *Client, id string, n int, line func(int) string) *pollConn {
	t.Helper()
	body, err := c.Logs(context.Background(), id, LogsOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { body.Close() })
	pc := pollConnOf(t, body)
	lr := NewLogReader(body, false, 1<<20)
	for i := 1; i <= n; i++ {
		e, err := lr.Next()
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if want := line(i); string(e.Line) != want {
			t.Fatalf("line %d: got %d bytes %.40q, want %d bytes %.40q", i, len(e.Line), e.Line, len(want), want)
		}
	}
	return pc
}

// A busy stream, one write (one frame) per line as dockerd writes them,
// is read in few reads: each wake-up of the reader costs CPU, and one per
// line was most of the plugin's CPU. Every line arrives, in order. The
// lines come at 100,000 a second, evenly, so that a reader that reads as
// soon as anything is there gets a few lines a read.
func TestPollConnCoalescesBusyStream(t *testing.T) {
	const lines = 20000
	line := func(i int) string { return fmt.Sprintf("line %d", i) }
	mux := http.NewServeMux()
	mux.Handle("/v1.41/containers/busy/logs", serveLines(lines, 10*time.Microsecond, line))
	pc := followLines(t, fakeDaemon(t, mux, 5*time.Second), "busy", lines, line)
	reads := pc.reads.Load()
	t.Logf("%d lines in %d reads of the socket", lines, reads)
	if reads > lines/50 {
		t.Fatalf("%d lines written one by one took %d reads of the socket; a busy stream must be read in batches (at most %d)", lines, reads, lines/50)
	}
}

// A backlog of long lines (dockerd's 16 KiB chunks, written as fast as the
// socket takes them) fills the busy stream's buffer, which grows to its
// largest (and may shrink again as the backlog ends); every byte arrives,
// in order, through every size.
func TestPollConnBacklogFillsBuffer(t *testing.T) {
	const lines = 3000
	filler := strings.Repeat("x", 16<<10)
	line := func(i int) string { return fmt.Sprintf("%d %s", i, filler[:i%len(filler)]) }
	mux := http.NewServeMux()
	mux.Handle("/v1.41/containers/backlog/logs", serveLines(lines, 0, line))
	pc := followLines(t, fakeDaemon(t, mux, 5*time.Second), "backlog", lines, line)
	if pc.peak != busyBufferMax {
		t.Fatalf("the busy buffer grew to %d bytes at most over a backlog of %d MB; want %d", pc.peak, lines*8<<10>>20, busyBufferMax)
	}
}

// A stream waiting for its next line ends its wait when closed, when its
// context ends, and with a timeout error at the idle deadline.
func TestPollConnWaitEnds(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1.41/containers/quiet/logs", func(w http.ResponseWriter, r *http.Request) {
		w.Write(stdoutLine("first"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	c := fakeDaemon(t, mux, 300*time.Millisecond)
	for _, how := range []string{"close", "cancel", "idle"} {
		ctx, cancel := context.WithCancel(context.Background())
		body, err := c.Logs(ctx, "quiet", LogsOptions{Follow: true})
		if err != nil {
			t.Fatal(err)
		}
		lr := NewLogReader(body, false, 1<<20)
		if e, err := lr.Next(); err != nil || string(e.Line) != "first" {
			t.Fatalf("%s: first line %q %v", how, e.Line, err)
		}
		ended := make(chan error, 1)
		start := time.Now()
		go func() { _, err := lr.Next(); ended <- err }()
		time.Sleep(50 * time.Millisecond)
		switch how {
		case "close":
			body.Close()
		case "cancel":
			cancel()
		}
		select {
		case err := <-ended:
			if err == nil {
				t.Fatalf("%s: a line came from nowhere", how)
			}
			if timeout := IsTimeout(err); timeout != (how == "idle") {
				t.Fatalf("%s: ended with %v (a timeout: %v)", how, err, timeout)
			}
			if how == "idle" && time.Since(start) < 250*time.Millisecond {
				t.Fatalf("idle: ended after %s, before the idle deadline", time.Since(start))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the wait did not end", how)
		}
		body.Close()
		cancel()
		if err := body.Close(); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("%s: second close: %v", how, err)
		}
	}
}

// Many streams wait at once and each gets its own lines.
func TestPollConnManyStreams(t *testing.T) {
	const streams = 50
	mux := http.NewServeMux()
	release := make(chan struct{})
	mux.HandleFunc("/v1.41/containers/{id}/logs", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		for i := 1; i <= 3; i++ {
			w.Write(stdoutLine(fmt.Sprintf("%s %d", r.PathValue("id"), i)))
			w.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
		}
		<-r.Context().Done()
	})
	c := fakeDaemon(t, mux, 5*time.Second)
	errs := make(chan error, streams)
	for s := range streams {
		id := fmt.Sprintf("c%d", s)
		body, err := c.Logs(context.Background(), id, LogsOptions{Follow: true})
		if err != nil {
			t.Fatal(err)
		}
		defer body.Close()
		go func() {
			lr := NewLogReader(body, false, 1<<20)
			for i := 1; i <= 3; i++ {
				e, err := lr.Next()
				if want := fmt.Sprintf("%s %d", id, i); err != nil || string(e.Line) != want {
					errs <- fmt.Errorf("%s: got %q %v, want %q", id, e.Line, err, want)
					return
				}
			}
			errs <- nil
		}()
	}
	time.Sleep(100 * time.Millisecond) // all waiting
	close(release)
	for range streams {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a stream never got its lines")
		}
	}
}
