package benchkit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Row is one line of the summary table that `make bench` prints: one
// measured figure against its goal.
type Row struct {
	ID       string `json:"id"`       // P1, P2, ... or a short name
	What     string `json:"what"`     // what is measured
	Value    string `json:"value"`    // the figure, with what it came from
	Goal     string `json:"goal"`     // the goal, "" when there is none
	Verdict  string `json:"verdict"`  // pass, MISS, n/a, info
	Settings string `json:"settings"` // plugin and host settings of the run
}

// Verdict turns a comparison into a Row verdict.
func Verdict(ok bool) string {
	if ok {
		return "pass"
	}
	return "MISS"
}

// Result is what one benchmark program leaves for the summary.
type Result struct {
	Program string    `json:"program"`
	Command string    `json:"command"`
	Date    time.Time `json:"date"`
	Took    string    `json:"took"`
	Machine string    `json:"machine"`
	Rows    []Row     `json:"rows"`
}

// Command is the command line that produced this run, as a user would
// type it: `go run ./tests/bench/NAME args...` for a temporary binary of
// go run.
func Command(name string) string {
	cmd := os.Args[0]
	if strings.Contains(cmd, "go-build") || filepath.Base(cmd) == name {
		cmd = "go run ./tests/bench/" + name
	}
	return strings.TrimSpace(cmd + " " + strings.Join(os.Args[1:], " "))
}

// WriteResult writes r as JSON to dir/<r.Program>.json (dir "" writes
// nothing), for tests/bench/summary.
func WriteResult(dir string, r Result) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	p := filepath.Join(dir, r.Program+".json")
	if err := os.WriteFile(p+".tmp", append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(p+".tmp", p)
}

// ReadResults reads every result in dir, by program name.
func ReadResults(dir string) ([]Result, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []Result
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var r Result
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// String describes the machine on one line.
func (m Machine) String() string {
	return "nproc " + itoa(m.NProc) + ", " + m.CPU + ", load average " + m.LoadAvg
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
