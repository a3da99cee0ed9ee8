package conf

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the README's key table from Keys")

const (
	tableBegin = "<!-- keys:begin (generated from conf.Keys: go test ./conf -run README -update) -->\n"
	tableEnd   = "<!-- keys:end -->"
)

// The README's key table is generated from Keys; this fails when they drift.
func TestREADMEKeyTable(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	before, rest, ok1 := strings.Cut(readme, tableBegin)
	table, after, ok2 := strings.Cut(rest, tableEnd)
	if !ok1 || !ok2 {
		t.Fatalf("README.md lacks the key table markers %q ... %q", tableBegin, tableEnd)
	}
	want := MarkdownTable()
	if table == want {
		return
	}
	if *update {
		if err := os.WriteFile("../README.md", []byte(before+tableBegin+want+tableEnd+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("README.md's key table differs from conf.Keys; run: go test ./conf -run README -update\nwant:\n%s\nhave:\n%s", want, table)
}
