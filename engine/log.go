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
// [2026/11/28 14:00:00] [ info] [input:docker_logs:docker_logs.0] message
type Logger struct {
	level  conf.Level
	prefix string
	mu     sync.Mutex
	out    io.Writer
}

// NewLogger logs for the instance named name at level and above.
func NewLogger(name string, level conf.Level) *Logger {
	return &Logger{level: level, prefix: "[input:docker_logs:" + name + "] ", out: os.Stderr}
}

// SetOutput redirects the log (tests).
func (l *Logger) SetOutput(w io.Writer) {
	l.mu.Lock()
	l.out = w
	l.mu.Unlock()
}

func (l *Logger) logf(level conf.Level, format string, args ...any) {
	if l == nil || level > l.level {
		return
	}
	line := fmt.Sprintf("[%s] [%s] %s%s\n", time.Now().Format("2006/01/02 15:04:05"), level, l.prefix, fmt.Sprintf(format, args...))
	l.mu.Lock()
	io.WriteString(l.out, line)
	l.mu.Unlock()
}

func (l *Logger) Errorf(format string, args ...any) { l.logf(conf.LevelError, format, args...) }
func (l *Logger) Warnf(format string, args ...any)  { l.logf(conf.LevelWarn, format, args...) }
func (l *Logger) Infof(format string, args ...any)  { l.logf(conf.LevelInfo, format, args...) }
func (l *Logger) Debugf(format string, args ...any) { l.logf(conf.LevelDebug, format, args...) }
