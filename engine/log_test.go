package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/docker-logs/docker_logs/conf"
)

// Queued for Fluent Bit's logger: lines wait for Drain, oldest first, with
// Fluent Bit's input prefix and below the level only; past the bound they
// are counted and the count is said once.
func TestLoggerQueuesForFluentBit(t *testing.T) {
	l := NewLogger("dl", conf.LevelInfo)
	l.Queue(conf.LevelWarn)
	l.Infof("hidden")
	l.Warnf("first %d", 1)
	l.Errorf("second")
	var got []LogLine
	l.Drain(func(line LogLine) { got = append(got, line) })
	want := []LogLine{{conf.LevelWarn, "[input:docker_logs:dl] first 1"}, {conf.LevelError, "[input:docker_logs:dl] second"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("drained %v, want %v", got, want)
	}
	got = nil
	for i := 0; i < maxQueuedLines+5; i++ {
		l.Errorf("line %d", i)
	}
	l.Drain(func(line LogLine) { got = append(got, line) })
	if len(got) != maxQueuedLines+1 || got[maxQueuedLines-1].Text != fmt.Sprintf("[input:docker_logs:dl] line %d", maxQueuedLines-1) {
		t.Fatalf("drained %d lines, want the first %d and a count", len(got), maxQueuedLines)
	}
	if last := got[maxQueuedLines]; last.Level != conf.LevelWarn || !strings.Contains(last.Text, "5 log lines dropped") {
		t.Fatalf("the count of dropped lines: %+v", last)
	}
	got = nil
	l.Drain(func(line LogLine) { got = append(got, line) })
	if len(got) != 0 {
		t.Fatalf("a second drain gave %v", got)
	}
	off := NewLogger("dl", conf.LevelInfo)
	off.Queue(LevelOff)
	off.Errorf("nothing")
	off.Drain(func(line LogLine) { t.Fatalf("log_level off logged %v", line) })
}
