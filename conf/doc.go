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
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s |\n", k.Name, k.Type, k.Default, k.Description)
	}
	return b.String()
}
