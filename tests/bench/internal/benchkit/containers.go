package benchkit

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Label is the label key every benchmark container carries, with the
// program's name (and pid) as value: cleanup removes by label, so nothing
// is left behind even when the program was killed half-way (the next run
// of the same program with -cleanup removes strays).
const Label = "docker_logs.bench"

// RunMany starts n containers with `docker run -d` (args(i) gives the
// arguments after "run -d"), at most conc at a time, and returns their IDs
// in order. On error it returns the IDs made so far: the caller removes
// them (by label) in any case.
func (d Docker) RunMany(ctx context.Context, n, conc int, args func(i int) []string) ([]string, error) {
	ids := make([]string, n)
	var (
		mu       sync.Mutex
		firstErr error
		done     int
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, max(conc, 1))
	last := time.Now()
	for i := 0; i < n; i++ {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed || ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			id, err := d.Run(ctx, append([]string{"run", "-d"}, args(i)...)...)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			ids[i] = id
			done++
			if time.Since(last) >= 10*time.Second {
				Progress("%d of %d containers started", done, n)
				last = time.Now()
			}
		}(i)
	}
	wg.Wait()
	out := ids[:0]
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return out, firstErr
}

// RemoveLabeled force-removes every container (running or not) carrying
// label=value, in batches, with its own context (cleanup runs after ^C too).
func (d Docker) RemoveLabeled(label, value string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := d.Run(ctx, "ps", "-aq", "--no-trunc", "--filter", "label="+label+"="+value)
	if err != nil {
		return err
	}
	ids := strings.Fields(out)
	if len(ids) == 0 {
		return nil
	}
	var firstErr error
	for i := 0; i < len(ids); i += 50 {
		batch := ids[i:min(i+50, len(ids))]
		if _, err := d.Run(ctx, append([]string{"rm", "-f"}, batch...)...); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return fmt.Errorf("removing containers %s=%s: %w", label, value, firstErr)
	}
	Progress("removed %d containers (%s=%s)", len(ids), label, value)
	return nil
}
