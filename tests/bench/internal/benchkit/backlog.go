package benchkit

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Backlog is a container that wrote its whole log before anything reads it.
type Backlog struct {
	ID      string
	LogPath string // its json-file log
	Bytes   int64  // the log's size
}

// CreateBacklog starts a loggen container named name, labelled Label=label,
// that writes lines lines of size bytes to a json-file log and then keeps
// running (-then sleep), as a followed container; it returns once the last
// line is in the log (polled through api, tail=1). On error the container
// may exist: the caller removes it by label in any case.
func (d Docker) CreateBacklog(ctx context.Context, api *API, name, label string, lines, size int) (Backlog, error) {
	id, err := d.Run(ctx, "run", "-d", "--name", name, "--network", "none",
		"--log-driver", "json-file", "--label", Label+"="+label,
		LoggenImage, "-n", strconv.Itoa(lines), "-size", strconv.Itoa(size), "-then", "sleep")
	if err != nil {
		return Backlog{}, fmt.Errorf("%v (%s)", err, StartHint)
	}
	Progress("container %s writing %d lines of %d bytes", id[:12], lines, size)
	want := fmt.Sprintf("stdout - %08d ", lines)
	deadline := time.Now().Add(10 * time.Minute)
	for {
		last, err := api.LastLine(ctx, id)
		if err != nil {
			return Backlog{}, err
		}
		if strings.HasPrefix(string(last), want) {
			break
		}
		if time.Now().After(deadline) {
			return Backlog{}, fmt.Errorf("log of %s incomplete after 10 min", id[:12])
		}
		select {
		case <-ctx.Done():
			return Backlog{}, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	b := Backlog{ID: id}
	if b.LogPath, err = d.Run(ctx, "inspect", "-f", "{{.LogPath}}", id); err != nil {
		return Backlog{}, err
	}
	st, err := os.Stat(b.LogPath)
	if err != nil {
		return Backlog{}, err
	}
	b.Bytes = st.Size()
	Progress("backlog complete: %d lines, json-file %.1f MB", lines, float64(b.Bytes)/1e6)
	return b, nil
}
