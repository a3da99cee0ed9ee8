package conf

import (
	"fmt"
	"strings"
)

// Fields is a set of the metadata fields records carry besides log and
// stream.
type Fields uint16

const (
	FieldContainerID Fields = 1 << iota
	FieldContainerName
	FieldImage
	FieldImageID
	FieldHostname
	FieldComposeProject
	FieldComposeService
	FieldLabels

	AllFields = FieldLabels<<1 - 1
)

// fieldNames are the fields by bit, in the order records carry them.
var fieldNames = []string{"container_id", "container_name", "image", "image_id", "hostname", "compose_project", "compose_service", "labels"}

// Has reports whether f is in the set.
func (s Fields) Has(f Fields) bool { return s&f != 0 }

// parseFields reads a comma-separated list of field names.
func parseFields(v string) (Fields, error) {
	var s Fields
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		i := indexOf(fieldNames, name)
		if i < 0 {
			return 0, fmt.Errorf("unknown field %q; expected a comma-separated list of %s", name, strings.Join(fieldNames, ", "))
		}
		s |= 1 << i
	}
	return s, nil
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}
