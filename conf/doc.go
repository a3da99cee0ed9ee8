package conf

import (
	"fmt"
	"strings"
)

// MarkdownTable renders Keys as the README's key table, so the two cannot
// drift (TestREADMEKeyTable).
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| key | type | default | description |\n|---|---|---|---|\n")
	for _, k := range Keys {
		def := "`" + k.Default + "`"
		if k.Default == "" {
			def = "(none)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k.Name, k.Type, def, k.Description)
	}
	return b.String()
}
