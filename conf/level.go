package conf

import (
	"errors"
	"strings"
)

// Level is a log level, ordered from the most to the least severe.
type Level int

const (
	LevelError Level = iota
	LevelWarn
	LevelInfo
	LevelDebug
)

var levelNames = []string{"error", "warn", "info", "debug"}

// String returns the level as Fluent Bit prints it, padded to five
// characters ("error", " warn", " info", "debug").
func (l Level) String() string {
	if l < LevelError || l > LevelDebug {
		return "?????"
	}
	n := levelNames[l]
	return strings.Repeat(" ", 5-len(n)) + n
}

// ParseLevel reads a level name in any case.
func ParseLevel(v string) (Level, error) {
	for i, n := range levelNames {
		if strings.EqualFold(v, n) {
			return Level(i), nil
		}
	}
	return 0, errors.New("expected error, warn, info or debug")
}
