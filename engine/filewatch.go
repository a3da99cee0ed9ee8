package engine

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// fileWatcher tells the monitors reading json-file logs of writes to them:
// one inotify instance and one goroutine for the whole engine, not one per
// container. Without it (inotify unavailable, its limits reached), readers
// still poll (filePoll).
type fileWatcher struct {
	log  *Logger
	w    *fsnotify.Watcher
	done chan struct{}

	mu   sync.Mutex
	dirs map[string]*dirWatch
}

// dirWatch is one watched directory's readers.
type dirWatch struct{ readers map[chan struct{}]struct{} }

func newFileWatcher(log *Logger) *fileWatcher {
	fw := &fileWatcher{log: log, dirs: map[string]*dirWatch{}, done: make(chan struct{})}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		log.Warnf("inotify unavailable (%v): json-file logs are checked every %s instead", err, filePoll)
		close(fw.done)
		return fw
	}
	fw.w = w
	go fw.run()
	return fw
}

// filePace is the shortest time between two wake-ups of a reader. A busy
// log is written once per line: waking its reader for each write costs a
// wake-up, a read and a stat per line (make bench-source, live: several
// times tail's CPU). Paced, the writes of a pace come as one wake-up and
// one read, and the kernel merges their identical inotify events while
// the watcher sleeps.
const filePace = 10 * time.Millisecond

// run hands the writes to the readers of their directory, at most once a
// pace.
func (fw *fileWatcher) run() {
	defer close(fw.done)
	defer func() {
		if r := recover(); r != nil {
			fw.log.Errorf("file watcher: %v (json-file logs are checked every %s from now on)", r, filePoll)
		}
	}()
	dirty := map[string]bool{}
	for {
		select {
		case ev, ok := <-fw.w.Events:
			if !ok {
				return
			}
			dirty[filepath.Dir(ev.Name)] = true
			continue // take whatever else is queued
		case err, ok := <-fw.w.Errors:
			if !ok {
				return
			}
			fw.failed(err, dirty)
			continue
		default:
		}
		if len(dirty) > 0 {
			fw.wake(dirty)
			clear(dirty)
			time.Sleep(filePace)
		}
		select { // block until the next event
		case ev, ok := <-fw.w.Events:
			if !ok {
				return
			}
			dirty[filepath.Dir(ev.Name)] = true
		case err, ok := <-fw.w.Errors:
			if !ok {
				return
			}
			fw.failed(err, dirty)
		}
	}
}

// failed takes an error of the watch: after an overflow, which loses
// events, every reader is woken, as its backstop poll is long
// (fileBackstop).
func (fw *fileWatcher) failed(err error, dirty map[string]bool) {
	fw.log.Debugf("file watcher: %v", err)
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		fw.mu.Lock()
		for dir := range fw.dirs {
			dirty[dir] = true
		}
		fw.mu.Unlock()
	}
}

// wake signals the readers of the directories written to.
func (fw *fileWatcher) wake(dirs map[string]bool) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	for dir := range dirs {
		if d := fw.dirs[dir]; d != nil {
			for ch := range d.readers {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		}
	}
}

// watch signals the channel at each write in dir until cancel is called.
// The channel is nil where dir cannot be watched (no inotify, or its
// limits reached): the reader then polls.
func (fw *fileWatcher) watch(dir string) (<-chan struct{}, func(), error) {
	if fw.w == nil {
		return nil, func() {}, nil
	}
	ch := make(chan struct{}, 1)
	fw.mu.Lock()
	defer fw.mu.Unlock()
	d := fw.dirs[dir]
	if d == nil {
		if err := fw.w.Add(dir); err != nil {
			return nil, func() {}, fmt.Errorf("watching %s: %w", dir, err)
		}
		d = &dirWatch{readers: map[chan struct{}]struct{}{}}
		fw.dirs[dir] = d
	}
	d.readers[ch] = struct{}{}
	return ch, func() {
		fw.mu.Lock()
		defer fw.mu.Unlock()
		delete(d.readers, ch)
		if len(d.readers) == 0 && fw.dirs[dir] == d {
			delete(fw.dirs, dir)
			fw.w.Remove(dir) // fails once the directory is gone: nothing to undo
		}
	}, nil
}

// close ends the watcher and its goroutine.
func (fw *fileWatcher) close() {
	if fw.w != nil {
		fw.w.Close()
	}
	<-fw.done
}
