package engine

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/docker-logs/docker_logs/conf"
)

// Logger writes an instance's messages one of two ways:
//   - to stderr, in Fluent Bit's own format, so they interleave readably
//     with Fluent Bit's:
//     [2026/11/28 14:00:00.000] [ info] [input:docker_logs:docker_logs.0] message
//   - queued for Fluent Bit's logger (Queue): Fluent Bit's log_print sends
//     a line to its log file only from a thread it knows, and the engine's
//     goroutines are not such threads, so the plugin drains the queue from
//     its callbacks, which run on the instance's thread (Drain).
type Logger struct {
	level conf.Level
	name  string
	mu    sync.Mutex
	out   io.Writer
	// Queued mode: lines waiting for Drain, and how many the bound
	// dropped since the last one.
	queued  bool
	queue   []LogLine
	dropped int
}

// LogLine is a message for Fluent Bit's logger, with the prefix Fluent
// Bit's own inputs give theirs ("[input:docker_logs:NAME] ").
type LogLine struct {
	Level conf.Level
	Text  string
}

// maxQueuedLines bounds the lines waiting for Drain (a second's worth of
// collects, or a paused input's whole pause); beyond it lines are counted
// and the count is said.
const maxQueuedLines = 1000

// LevelOff is a level below every message: nothing is logged.
const LevelOff conf.Level = conf.LevelError - 1

// NewLogger logs for the instance named name at level and above, on
// stderr.
func NewLogger(name string, level conf.Level) *Logger {
	return &Logger{level: level, name: name, out: os.Stderr}
}

// SetOutput redirects the log (tests).
func (l *Logger) SetOutput(w io.Writer) {
	l.mu.Lock()
	l.out = w
	l.mu.Unlock()
}

// Queue switches the logger to queued mode at level (Fluent Bit's
// log_level for the instance): lines wait for Drain.
func (l *Logger) Queue(level conf.Level) {
	l.mu.Lock()
	l.queued, l.level = true, level
	l.mu.Unlock()
}

// Level is the least severe level logged.
func (l *Logger) Level() conf.Level {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.level
}

// Drain hands every queued line to write, oldest first, then a warning
// counting the lines the bound dropped. It must not be called
// concurrently with itself (it is, from the instance's thread only).
func (l *Logger) Drain(write func(LogLine)) {
	if l == nil {
		return
	}
	l.mu.Lock()
	lines, dropped := l.queue, l.dropped
	l.queue, l.dropped = nil, 0
	l.mu.Unlock()
	for _, line := range lines {
		write(line)
	}
	if dropped > 0 {
		write(LogLine{conf.LevelWarn, l.prefix() + fmt.Sprintf("%d log lines dropped: more than %d waited for Fluent Bit's logger (it takes them at each collect, none while the input is paused)", dropped, maxQueuedLines)})
	}
}

func (l *Logger) prefix() string { return "[input:docker_logs:" + l.name + "] " }

// FormatLine formats one log line as Fluent Bit (5.x) does, for the
// instance named name.
func FormatLine(level conf.Level, name, msg string) string {
	return fmt.Sprintf("[%s] [%s] [input:docker_logs:%s] %s\n", time.Now().Format("2006/01/02 15:04:05.000"), level, name, msg)
}

func (l *Logger) logf(level conf.Level, format string, args ...any) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if level > l.level {
		return
	}
	if l.queued {
		if len(l.queue) >= maxQueuedLines {
			l.dropped++
			return
		}
		l.queue = append(l.queue, LogLine{level, l.prefix() + fmt.Sprintf(format, args...)})
		return
	}
	io.WriteString(l.out, FormatLine(level, l.name, fmt.Sprintf(format, args...)))
}

func (l *Logger) Errorf(format string, args ...any) { l.logf(conf.LevelError, format, args...) }
func (l *Logger) Warnf(format string, args ...any)  { l.logf(conf.LevelWarn, format, args...) }
func (l *Logger) Infof(format string, args ...any)  { l.logf(conf.LevelInfo, format, args...) }
func (l *Logger) Debugf(format string, args ...any) { l.logf(conf.LevelDebug, format, args...) }

// repeatInterval is how often a message that keeps repeating gets through
// (a variable for the tests).
var repeatInterval = time.Minute

// repeatLimiter lets a repeating message (a container's retried error, an
// unreachable daemon) through once per repeatInterval, and says how many
// repeats it held back meanwhile. A different message gets through at once.
type repeatLimiter struct {
	mu   sync.Mutex
	key  string
	last time.Time
	held int
}

// allow reports whether the message keyed key is logged now, with a
// suffix counting the repeats held back since it last was.
func (r *repeatLimiter) allow(key string, now time.Time) (bool, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if key == r.key && now.Sub(r.last) < repeatInterval {
		r.held++
		return false, ""
	}
	suffix := ""
	if key == r.key && r.held > 0 {
		suffix = fmt.Sprintf(" (repeated %d times since %s)", r.held, r.last.Format("15:04:05"))
	}
	r.key, r.last, r.held = key, now, 0
	return true, suffix
}

// reset forgets the last message: the trouble is over.
func (r *repeatLimiter) reset() {
	r.mu.Lock()
	r.key, r.held = "", 0
	r.mu.Unlock()
}
