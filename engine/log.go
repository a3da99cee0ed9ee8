package engine

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/docker-logs/docker_logs/conf"
)

// Logger writes messages in Fluent Bit's own format on stderr, so they
// interleave readably with Fluent Bit's:
// [2026/11/28 14:00:00.000] [ info] [input:docker_logs:docker_logs.0] message
type Logger struct {
	level conf.Level
	name  string
	mu    sync.Mutex
	out   io.Writer
}

// NewLogger logs for the instance named name at level and above.
func NewLogger(name string, level conf.Level) *Logger {
	return &Logger{level: level, name: name, out: os.Stderr}
}

// SetOutput redirects the log (tests).
func (l *Logger) SetOutput(w io.Writer) {
	l.mu.Lock()
	l.out = w
	l.mu.Unlock()
}

// FormatLine formats one log line as Fluent Bit (5.x) does, for the
// instance named name.
func FormatLine(level conf.Level, name, msg string) string {
	return fmt.Sprintf("[%s] [%s] [input:docker_logs:%s] %s\n", time.Now().Format("2006/01/02 15:04:05.000"), level, name, msg)
}

func (l *Logger) logf(level conf.Level, format string, args ...any) {
	if l == nil || level > l.level {
		return
	}
	line := FormatLine(level, l.name, fmt.Sprintf(format, args...))
	l.mu.Lock()
	io.WriteString(l.out, line)
	l.mu.Unlock()
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
