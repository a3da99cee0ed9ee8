package conf

import (
	"errors"
	"fmt"
	"strings"
)

// TagFields are the container fields a tag_template may name, as
// {container_name} and so on.
var TagFields = []string{"container_name", "container_id", "short_id", "image", "compose_project", "compose_service"}

// TagTemplate is a parsed tag_template: literal text and {field}
// references, expanded once per container.
type TagTemplate struct {
	parts []tagPart
}

type tagPart struct {
	text  string // literal text, or the field's name when field is set
	field bool
}

func parseTagTemplate(v string) (*TagTemplate, error) {
	t := &TagTemplate{}
	for rest := v; rest != ""; {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			t.parts = append(t.parts, tagPart{text: rest})
			break
		}
		if rest[open] == '}' {
			return nil, errors.New("a '}' without its '{'")
		}
		if open > 0 {
			t.parts = append(t.parts, tagPart{text: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, errors.New("a '{' without its '}'")
		}
		name := rest[open+1 : open+end]
		if !isTagField(name) {
			return nil, fmt.Errorf("unknown field {%s}; expected one of {%s}", name, strings.Join(TagFields, "}, {"))
		}
		t.parts = append(t.parts, tagPart{text: name, field: true})
		rest = rest[open+end+1:]
	}
	if strings.ContainsAny(v, "* \t") {
		// Fluent Bit matches tags against patterns where '*' is a
		// wildcard, and its classic config splits values at spaces.
		return nil, errors.New("a tag cannot hold '*' or spaces")
	}
	return t, nil
}

func isTagField(name string) bool {
	for _, f := range TagFields {
		if f == name {
			return true
		}
	}
	return false
}

// Expand returns the tag of a container whose fields field returns.
func (t *TagTemplate) Expand(field func(name string) string) string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.field {
			b.WriteString(field(p.text))
		} else {
			b.WriteString(p.text)
		}
	}
	return b.String()
}

// WildcardTagTemplate is the tag_template that a Tag holding '*' stands
// for, as tail expands '*' with each file's path: every '*' becomes the
// container's name (Tag docker.* gives docker.<container_name>). It is
// nil for a tag without '*', or one that cannot be a template (spaces).
func WildcardTagTemplate(tag string) *TagTemplate {
	if !strings.Contains(tag, "*") || strings.ContainsAny(tag, " \t{}") {
		return nil
	}
	t := &TagTemplate{}
	for i, lit := range strings.Split(tag, "*") {
		if i > 0 {
			t.parts = append(t.parts, tagPart{text: "container_name", field: true})
		}
		if lit != "" {
			t.parts = append(t.parts, tagPart{text: lit})
		}
	}
	return t
}
