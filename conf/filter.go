package conf

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Filter chooses which containers an instance collects. A container is
// collected when it matches every include list that is set, matches no
// exclude list, and does not carry the label docker_logs.exclude=true.
type Filter struct {
	IncludeNames, ExcludeNames   []*regexp.Regexp
	IncludeLabels, ExcludeLabels []LabelMatch
	IncludeImages, ExcludeImages []*regexp.Regexp
}

// LabelMatch is "key" (the label is present) or "key=value" (value a glob).
type LabelMatch struct {
	Key   string
	Value *regexp.Regexp // nil: any value
	Exact string         // the value when it has no glob characters (for the API)
}

// OptOutLabel lets a container exclude itself.
const OptOutLabel = "docker_logs.exclude"

// Selects reports whether a container is collected.
func (f *Filter) Selects(name, image string, labels map[string]string) bool {
	if labels[OptOutLabel] == "true" {
		return false
	}
	if len(f.IncludeNames) > 0 && !anyMatch(f.IncludeNames, name) ||
		len(f.IncludeImages) > 0 && !anyMatch(f.IncludeImages, image) {
		return false
	}
	for _, l := range f.IncludeLabels { // every include label must match
		if !l.matches(labels) {
			return false
		}
	}
	if anyMatch(f.ExcludeNames, name) || anyMatch(f.ExcludeImages, image) {
		return false
	}
	for _, l := range f.ExcludeLabels {
		if l.matches(labels) {
			return false
		}
	}
	return true
}

// APILabelFilters are the include labels the Docker API can apply itself
// (no glob in the value), as its "label" filter values.
func (f *Filter) APILabelFilters() []string {
	var out []string
	for _, l := range f.IncludeLabels {
		switch {
		case l.Value == nil:
			out = append(out, l.Key)
		case l.Exact != "":
			out = append(out, l.Key+"="+l.Exact)
		}
	}
	return out
}

func (l LabelMatch) matches(labels map[string]string) bool {
	v, ok := labels[l.Key]
	return ok && (l.Value == nil || l.Value.MatchString(v))
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// parsePatterns reads a comma-separated list of globs ("*" any run of
// characters, "?" one), or of regular expressions written /like this/.
func parsePatterns(v string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, p := range splitList(v) {
		re, err := compilePattern(p)
		if err != nil {
			return nil, err
		}
		out = append(out, re)
	}
	return out, nil
}

func compilePattern(p string) (*regexp.Regexp, error) {
	if len(p) >= 2 && strings.HasPrefix(p, "/") && strings.HasSuffix(p, "/") {
		re, err := regexp.Compile(p[1 : len(p)-1])
		if err != nil {
			return nil, fmt.Errorf("bad regular expression %s: %v", p, err)
		}
		return re, nil
	}
	return globRegexp(p), nil
}

// globRegexp matches the whole string against a glob.
func globRegexp(g string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range g {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func parseLabels(v string) ([]LabelMatch, error) {
	var out []LabelMatch
	for _, p := range splitList(v) {
		key, val, hasVal := strings.Cut(p, "=")
		key = strings.TrimSpace(key)
		if key == "" {
			return nil, errors.New("expected key or key=value, comma-separated")
		}
		l := LabelMatch{Key: key}
		if hasVal {
			l.Value = globRegexp(val)
			if !strings.ContainsAny(val, "*?") && val != "" {
				l.Exact = val
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// splitList splits a comma-separated list, trimming items and dropping
// empty ones. An item that starts with "/" is a regular expression and
// runs to its closing "/" (one not escaped by a backslash, followed only by
// spaces before a comma or the end), so commas inside it, as in
// /a{1,3}/, are part of it. An item whose regex never closes ends at the
// next comma, as any other.
func splitList(v string) []string {
	var out []string
	for v != "" {
		v = strings.TrimLeft(v, " \t")
		end := strings.IndexByte(v, ',')
		if end < 0 {
			end = len(v)
		}
		if strings.HasPrefix(v, "/") {
			if n := regexItemEnd(v); n > 0 {
				end = n
			}
		}
		if p := strings.TrimSpace(v[:end]); p != "" {
			out = append(out, p)
		}
		if end >= len(v) {
			break
		}
		v = v[end+1:]
	}
	return out
}

// regexItemEnd returns the index of the comma (or the length of v) after
// the /regex/ v starts with, or 0 when the regex does not close.
func regexItemEnd(v string) int {
	for i := 1; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++ // an escaped character, "\/" included
		case '/':
			rest := strings.TrimLeft(v[i+1:], " \t")
			if rest == "" {
				return len(v)
			}
			if rest[0] == ',' {
				return len(v) - len(rest)
			}
		}
	}
	return 0
}

// AttachesLabel reports whether records carry the container label key
// (the labels key).
func (c *Config) AttachesLabel(key string) bool { return anyMatch(c.Labels, key) }
