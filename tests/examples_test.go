package tests

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/docker-logs/docker_logs/tests/internal/dockertest"
)

// The example configurations in conf/examples load and deliver: each one's
// docker_logs inputs, with the properties it gives them, run in the test
// host (Fluent Bit hands a Go input exactly these properties) against the
// test daemon, and every line of a new container arrives once, from one
// input, at each output whose Match takes its tag and at no other (the
// host's --route per [OUTPUT]). A configuration with tag_template also runs
// a web and a db container, whose records carry docker.<name>. Only
// docker_host and the db directory are changed, to the test's.
func TestExampleConfigs(t *testing.T) {
	d := needDocker(t)
	files, err := filepath.Glob(filepath.Join(repoRoot, "conf/examples/fluent-bit*"))
	if err != nil || len(files) < 4 {
		t.Fatalf("example configurations %v, %v", files, err)
	}
	for _, path := range files {
		file := filepath.Base(path)
		t.Run(file, func(t *testing.T) {
			var inputs []map[string]string
			var plugins, matches []string
			if strings.HasSuffix(file, ".yaml") {
				inputs, plugins, matches = readYAMLConfig(t, path)
			} else {
				inputs, plugins, matches = readClassicConfig(t, path)
			}
			if len(inputs) == 0 {
				t.Fatal("no docker_logs input")
			}
			for _, p := range plugins {
				if filepath.Base(p) != "docker_logs.so" {
					t.Errorf("plugins entry %q is not docker_logs.so", p)
				}
			}
			if len(plugins) == 0 {
				t.Error("the plugin is not loaded by the configuration")
			}
			dbDir := t.TempDir()
			args := []string{"--interval-ms", "200"}
			var routes []routeFile
			for i, m := range matches {
				routes = append(routes, routeFile{t, filepath.Join(dbDir, fmt.Sprintf("output-%d.jsonl", i))})
				args = append(args, "--route", m+"="+routes[i].path)
			}
			for _, in := range inputs {
				args = append(args, "-i", "docker_logs")
				for k, v := range in {
					switch k {
					case "docker_host":
						v = d.Host()
					case "db":
						v = filepath.Join(dbDir, filepath.Base(v))
					}
					args = append(args, "-p", k+"="+v)
				}
				if in["docker_host"] == "" {
					args = append(args, "-p", "docker_host="+d.Host())
				}
			}
			h := startHost(t, args...)
			h.waitLog(fmt.Sprintf("docker_logs.%d] connected to docker", len(inputs)-1), 30*time.Second)
			// Tag docker.* stands for the template docker.{container_name}.
			tmpl := inputs[0]["tag_template"]
			if tag := inputs[0]["tag"]; tmpl == "" && strings.Contains(tag, "*") {
				tmpl = strings.ReplaceAll(tag, "*", "{container_name}")
			}
			names := []string{"example"}
			if tmpl != "" {
				names = append(names, "web", "db")
			}
			for _, name := range names {
				id, err := d.Run(dockertest.Run{Name: name + suffix(), Args: []string{"-n", "200", "-stream", "both"}})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { d.Remove(id) })
				if err := d.Wait(id); err != nil {
					t.Fatal(err)
				}
				recs, ref := awaitEveryLineOnce(t, d, h, id)
				mine := ofContainer(recs, id)
				from := map[string]bool{}
				for _, r := range mine {
					from[r.Instance] = true
				}
				if len(from) != 1 {
					t.Errorf("the container's lines came from %d inputs: %v", len(from), from)
				}
				tag := inputs[0]["tag"] // the records' tag: the input's, or their own
				if mine[0].Tag != "" {
					tag = mine[0].Tag
				}
				if tmpl != "" && tag != strings.ReplaceAll(tmpl, "{container_name}", containerName(t, d, id)) {
					t.Errorf("records of %s tagged %q; their template %s", containerName(t, d, id), tag, tmpl)
				}
				for i, route := range routes {
					got := ofContainer(route.records(), id)
					if !tagMatches(matches[i], tag) {
						if len(got) > 0 {
							t.Errorf("output %d (Match %s) got %d records tagged %s", i, matches[i], len(got), tag)
						}
						continue
					}
					assertExactlyOnce(t, route.records(), ref, id, containerName(t, d, id))
				}
			}
			h.stop()
			for _, in := range inputs {
				if db := in["db"]; db != "" {
					if _, err := os.Stat(filepath.Join(dbDir, filepath.Base(db))); err != nil {
						t.Errorf("db %s not written: %v", db, err)
					}
				}
			}
		})
	}
}

// tagMatches is Fluent Bit's Match: the whole tag, '*' any run of
// characters.
func tagMatches(pattern, tag string) bool {
	re := "^" + strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*") + "$"
	return regexp.MustCompile(re).MatchString(tag)
}

// readClassicConfig returns the properties of each docker_logs [INPUT]
// (keys lower-cased, Name left out), the [PLUGINS] paths of a classic
// configuration, following Plugins_File, and each [OUTPUT]'s Match.
func readClassicConfig(t *testing.T, path string) (inputs []map[string]string, plugins, matches []string) {
	t.Helper()
	for _, s := range readSections(t, path) {
		switch s.name {
		case "OUTPUT":
			matches = append(matches, s.props["match"])
		case "INPUT":
			if strings.EqualFold(s.props["name"], "docker_logs") {
				delete(s.props, "name")
				inputs = append(inputs, s.props)
			}
		case "SERVICE":
			if pf := s.props["plugins_file"]; pf != "" {
				for _, p := range readSections(t, filepath.Join(filepath.Dir(path), pf)) {
					if p.name == "PLUGINS" {
						plugins = append(plugins, p.props["path"])
					}
				}
			}
		}
	}
	return inputs, plugins, matches
}

type section struct {
	name  string
	props map[string]string
}

func readSections(t *testing.T, path string) []section {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []section
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			out = append(out, section{strings.ToUpper(strings.Trim(line, "[]")), map[string]string{}})
		case len(out) == 0:
			t.Fatalf("%s: %q before any section", path, line)
		default:
			k, v, _ := strings.Cut(line, " ")
			out[len(out)-1].props[strings.ToLower(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// readYAMLConfig is readClassicConfig for Fluent Bit's YAML format.
func readYAMLConfig(t *testing.T, path string) (inputs []map[string]string, plugins, matches []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Plugins  []string `yaml:"plugins"`
		Pipeline struct {
			Inputs  []map[string]any `yaml:"inputs"`
			Outputs []struct {
				Match string `yaml:"match"`
			} `yaml:"outputs"`
		} `yaml:"pipeline"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, in := range doc.Pipeline.Inputs {
		if fmt.Sprint(in["name"]) != "docker_logs" {
			continue
		}
		props := map[string]string{}
		for k, v := range in {
			if k != "name" {
				props[strings.ToLower(k)] = fmt.Sprint(v)
			}
		}
		inputs = append(inputs, props)
	}
	for _, o := range doc.Pipeline.Outputs {
		matches = append(matches, o.Match)
	}
	return inputs, doc.Plugins, matches
}
