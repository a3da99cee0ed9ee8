// Command loggen is the log generator that the docker_logs integration tests
// run inside containers (image docker_logs-loggen:test, built by
// tests/docker/dockerd.sh image). It is stdlib only and built static
// (CGO_ENABLED=0) so it runs FROM scratch.
//
// # Line format (tests parse it; keep it exact)
//
//	<stream> <tag> <seq>[ <filler>]\n
//
// <stream> is "stdout" or "stderr", the stream the line is written to.
// <tag> is the -tag value, or "-" when -tag is empty. <seq> is the 1-based
// number of the line within its own stream, zero-padded to 8 digits ("%08d");
// with -stream both each stream counts 1..N on its own. <filler> is present
// only with -size S: the line (without the newline) is then exactly S bytes,
// the prefix "<stream> <tag> <seq> " followed by a filler whose i-th byte
// (0-based, from the filler's start) is "abcdefghijklmnopqrstuvwxyz"[i%26].
// If S cannot hold the prefix plus one filler byte, the line has no filler
// (and no trailing space) and is longer than S.
//
// Example: "stdout - 00000001" or, with -size 30 -tag t1,
// "stderr t1 00000002 abcdefghijk".
//
// Each line is written with a single os.Stdout.Write / os.Stderr.Write of
// the full line including its newline (one write syscall per line), so the
// Docker daemon sees line boundaries as it does from real programs.
//
// With -repeat K every line is written K times in a row (K identical lines,
// for tests of daemons that stamp lines in whole seconds); -n and -rate
// count distinct lines.
//
// With -stream both, lines alternate stdout, stderr, stdout, ... so that
// each stream receives N lines (2N in total). -rate counts lines across both
// streams. In a TTY container (docker run -t) the same lines are written and
// the tty turns "\n" into "\r\n".
//
// SIGTERM and SIGINT are handled explicitly (the process is PID 1 in its
// container, where default dispositions would ignore them): at any point,
// the generator exits 0 promptly on either.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

const fillerAlphabet = "abcdefghijklmnopqrstuvwxyz"

type config struct {
	n          int
	stream     string
	rate       float64
	size       int
	startDelay time.Duration
	then       string
	tag        string
	repeat     int
	trace      int
}

func usage() {
	o := flag.CommandLine.Output()
	fmt.Fprintf(o, `Usage: loggen [flags]

Writes numbered log lines to stdout and/or stderr, one write per line:
  <stream> <tag-or-"-"> <seq, 1-based per stream, 8 digits>[ <filler>]
e.g. "stdout - 00000001". With -size S the line is padded to S bytes
(newline excluded) with the filler "abcdefghijklmnopqrstuvwxyz" repeated.
SIGTERM/SIGINT make it exit 0 at any time.

Flags:
`)
	flag.PrintDefaults()
}

func main() {
	var c config
	flag.IntVar(&c.n, "n", 10, "lines per stream")
	flag.StringVar(&c.stream, "stream", "stdout", "stream(s) to write: stdout|stderr|both (both alternates line by line; each stream gets N lines)")
	flag.Float64Var(&c.rate, "rate", 0, "total lines per second across streams (0 = as fast as possible)")
	flag.IntVar(&c.size, "size", 0, "pad each line to this many bytes, newline excluded (0 = no filler)")
	flag.DurationVar(&c.startDelay, "start-delay", 0, "sleep this long before the first line (Go duration, e.g. 500ms)")
	flag.StringVar(&c.then, "then", "exit", "after the last line: exit (exit 0) | sleep (run until SIGTERM/SIGINT, then exit 0)")
	flag.StringVar(&c.tag, "tag", "", `word included in every line ("-" when empty)`)
	flag.IntVar(&c.repeat, "repeat", 1, "write every line this many times in a row (identical lines)")
	flag.IntVar(&c.trace, "trace", 0, `make every line the head of a Java exception ("... java.lang.IllegalStateException: boom") followed by this many "\tat ..." frame lines, each its own write`)
	flag.Usage = usage
	flag.Parse()

	if err := validate(c); err != nil {
		fmt.Fprintf(os.Stderr, "loggen: %v\n", err)
		usage()
		os.Exit(2)
	}

	// Installed before anything else: as PID 1 in a container, SIGTERM and
	// SIGINT would otherwise be ignored.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		os.Exit(0)
	}()

	if c.startDelay > 0 {
		time.Sleep(c.startDelay)
	}

	if err := generate(c); err != nil {
		fmt.Fprintf(os.Stderr, "loggen: %v\n", err)
		os.Exit(1)
	}

	if c.then == "sleep" {
		select {} // the signal goroutine exits the process
	}
}

func validate(c config) error {
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", flag.Args())
	}
	if c.n < 0 {
		return fmt.Errorf("-n must be >= 0")
	}
	switch c.stream {
	case "stdout", "stderr", "both":
	default:
		return fmt.Errorf("-stream must be stdout, stderr or both, not %q", c.stream)
	}
	switch c.then {
	case "exit", "sleep":
	default:
		return fmt.Errorf("-then must be exit or sleep, not %q", c.then)
	}
	if c.rate < 0 {
		return fmt.Errorf("-rate must be >= 0")
	}
	if c.size < 0 {
		return fmt.Errorf("-size must be >= 0")
	}
	if c.repeat < 1 {
		return fmt.Errorf("-repeat must be >= 1")
	}
	if c.trace < 0 {
		return fmt.Errorf("-trace must be >= 0")
	}
	for _, r := range c.tag {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return fmt.Errorf("-tag must be a single word")
		}
	}
	return nil
}

// lineWriter formats lines into a reusable buffer. The filler depends only on
// its position, so for a given prefix length it is written once and only the
// prefix is rewritten per line (cheap even for multi-MiB lines).
type lineWriter struct {
	tag        string
	size       int
	buf        []byte
	fillerFrom int // prefix length the current filler was laid out for; -1 = none
}

func (w *lineWriter) line(stream string, seq int) []byte {
	tag := w.tag
	if tag == "" {
		tag = "-"
	}
	// prefix without trailing space: "<stream> <tag> <seq>"
	prefix := make([]byte, 0, len(stream)+len(tag)+12)
	prefix = append(prefix, stream...)
	prefix = append(prefix, ' ')
	prefix = append(prefix, tag...)
	prefix = append(prefix, ' ')
	s := strconv.Itoa(seq)
	for i := len(s); i < 8; i++ {
		prefix = append(prefix, '0')
	}
	prefix = append(prefix, s...)

	p := len(prefix) + 1 // filler starts after "<prefix> "
	if w.size <= p {
		// No room for a filler: the bare prefix.
		w.buf = append(w.buf[:0], prefix...)
		w.buf = append(w.buf, '\n')
		w.fillerFrom = -1
		return w.buf
	}
	if w.fillerFrom != p || len(w.buf) != w.size+1 {
		if cap(w.buf) < w.size+1 {
			w.buf = make([]byte, w.size+1)
		}
		w.buf = w.buf[:w.size+1]
		for i := p; i < w.size; i++ {
			w.buf[i] = fillerAlphabet[(i-p)%len(fillerAlphabet)]
		}
		w.buf[w.size] = '\n'
		w.fillerFrom = p
	}
	copy(w.buf, prefix)
	w.buf[len(prefix)] = ' '
	return w.buf
}

func generate(c config) error {
	type step struct {
		name string
		f    *os.File
	}
	var streams []step
	switch c.stream {
	case "stdout":
		streams = []step{{"stdout", os.Stdout}}
	case "stderr":
		streams = []step{{"stderr", os.Stderr}}
	case "both":
		streams = []step{{"stdout", os.Stdout}, {"stderr", os.Stderr}}
	}
	total := c.n * len(streams)
	w := &lineWriter{tag: c.tag, size: c.size, fillerFrom: -1}

	emit := func(k int) error { // k: 0-based index over all lines
		s := streams[k%len(streams)]
		seq := k/len(streams) + 1
		line := w.line(s.name, seq)
		if c.trace > 0 {
			line = append(line[:len(line)-1:len(line)-1], " java.lang.IllegalStateException: boom\n"...)
		}
		for i := 0; i < c.repeat; i++ {
			if _, err := s.f.Write(line); err != nil {
				return err
			}
		}
		for i := 1; i <= c.trace; i++ {
			if _, err := fmt.Fprintf(s.f, "\tat com.example.Service.step%d(Service.java:%d)\n", i, seq); err != nil {
				return err
			}
		}
		return nil
	}

	if c.rate <= 0 {
		for k := 0; k < total; k++ {
			if err := emit(k); err != nil {
				return err
			}
		}
		return nil
	}

	// Paced: line k is due at start + k/rate. A ticker wakes up every
	// interval and writes every line that is due by then, so high rates are
	// accurate without one sleep per line.
	interval := 10 * time.Millisecond
	if per := time.Duration(float64(time.Second) / c.rate); per > interval {
		interval = per
	}
	start := time.Now()
	written := 0
	flush := func(now time.Time) error {
		due := int(c.rate*now.Sub(start).Seconds()) + 1
		if due > total {
			due = total
		}
		for ; written < due; written++ {
			if err := emit(written); err != nil {
				return err
			}
		}
		return nil
	}
	if err := flush(start); err != nil {
		return err
	}
	if written >= total {
		return nil
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for now := range t.C {
		if err := flush(now); err != nil {
			return err
		}
		if written >= total {
			return nil
		}
	}
	return nil
}
