// Package benchkit holds what the benchmark programs under tests/bench have
// in common, so that they report progress, fail, clean up and talk to the
// private daemon of tests/docker/dockerd.sh the same way. Standard library
// only: a benchmark must not measure a client library.
package benchkit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// Prog is a benchmark program's name, the prefix of its error messages.
type Prog string

// Fatalf reports a fatal error on stderr, prefixed with the program's name,
// and exits 1.
func (p Prog) Fatalf(format string, a ...any) {
	p.Warnf(format, a...)
	os.Exit(1)
}

// Warnf reports an error that does not end the program (e.g. a failed
// cleanup) on stderr, prefixed with the program's name.
func (p Prog) Warnf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, string(p)+": "+format+"\n", a...)
}

// Built makes each path absolute, and exits saying how to build it when it
// is missing (the test host, the plugin).
func (p Prog) Built(paths ...*string) {
	for _, path := range paths {
		a, err := filepath.Abs(*path)
		if err != nil {
			p.Fatalf("%v", err)
		}
		if _, err := os.Stat(a); err != nil {
			p.Fatalf("%v (build it: make)", err)
		}
		*path = a
	}
}

// Main runs a benchmark under a context that SIGINT and SIGTERM cancel, then
// cleanup, also after an error or ^C (a benchmark must never leave containers
// behind on the shared daemon), and exits 1 if run failed.
func (p Prog) Main(run func(context.Context) error, cleanup func()) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx)
	cleanup()
	if err != nil {
		p.Fatalf("%v", err)
	}
}

// FluentBit resolves a -fluent-bit flag: "auto" is FindFluentBit's ("" if
// none), "off" is "", anything else a binary that must exist.
func (p Prog) FluentBit(flag string) string {
	switch flag {
	case "auto":
		return FindFluentBit()
	case "off":
		return ""
	}
	if _, err := os.Stat(flag); err != nil {
		p.Fatalf("-fluent-bit: %v", err)
	}
	return flag
}

// Progress writes a timestamped progress line to stderr, so that stdout
// holds the report alone.
func Progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
}

// Cleanup removes a run's containers (those labelled label) and, unless
// keep, its work directory.
func (p Prog) Cleanup(d Docker, label, work string, keep bool) {
	if err := d.RemoveLabeled(Label, label); err != nil {
		p.Warnf("cleanup: %v", err)
	}
	switch {
	case work == "":
	case keep:
		Progress("work directory kept: %s", work)
	default:
		os.RemoveAll(work)
	}
}

// FindFluentBit is the real Fluent Bit the benchmarks run (from the
// repository's root, as make runs them): $FLUENT_BIT, else the 5.1.1
// build in ../shared/fluent-bit, else fluent-bit on PATH; "" if none.
func FindFluentBit() string {
	if bin := os.Getenv("FLUENT_BIT"); bin != "" {
		return bin
	}
	if bin, err := filepath.Abs("../shared/fluent-bit/v5.1.1/fluent-bit"); err == nil {
		if _, err := os.Stat(bin); err == nil {
			return bin
		}
	}
	bin, _ := exec.LookPath("fluent-bit")
	return bin
}
