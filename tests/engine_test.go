package tests

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/docker-logs/docker_logs/conf"
	"github.com/docker-logs/docker_logs/engine"
	"github.com/docker-logs/docker_logs/tests/internal/dockertest"
)

// The engine on the real Docker client, in this process: after Stop no
// goroutine of it remains (streams, events, HTTP connections).
func TestEngineStopLeavesNoGoroutine(t *testing.T) {
	d := needDocker(t)
	before := goleak.IgnoreCurrent()
	cfg, err := conf.Parse(conf.Map{"docker_host": d.Host()})
	if err != nil {
		t.Fatal(err)
	}
	api, err := engine.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	log := engine.NewLogger("docker_logs.0", conf.LevelInfo)
	e := engine.New(cfg, "docker_logs.0", api, log)
	e.Start()
	// One container still writing (an open follow stream) and one done.
	running, err := d.Run(dockertest.Run{Name: "leak-running" + suffix(), Args: []string{"-n", "100000", "-rate", "50", "-then", "sleep"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Remove(running) })
	done, err := d.Run(dockertest.Run{Name: "leak-done" + suffix(), Args: []string{"-n", "10"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Remove(done) })
	d.Wait(done)
	deadline := time.Now().Add(30 * time.Second)
	var got strings.Builder
	for !strings.Contains(got.String(), "stdout - 00000010") || !strings.Contains(got.String(), running) {
		if time.Now().After(deadline) {
			t.Fatal("the engine delivered nothing from the two containers")
		}
		got.Write(e.Collect())
		time.Sleep(50 * time.Millisecond)
	}
	e.Stop()
	goleak.VerifyNone(t, before)
}
