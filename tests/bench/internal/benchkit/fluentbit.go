package benchkit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"time"
)

// DockerParsersConf holds Fluent Bit's docker parser as its parsers.conf
// ships it: what tail needs to read a json-file log (fluent-bit -R FILE).
const DockerParsersConf = `[PARSER]
    Name        docker
    Format      json
    Time_Key    time
    Time_Format %Y-%m-%dT%H:%M:%S.%L
    Time_Keep   On
`

// FluentBitOutput picks the output of benchmark runs of real Fluent Bit:
// null when the binary has it, else stdout matching no tag (records are
// then dropped right after the input appends them). Either way the output
// costs nothing per line, so runs compare the inputs alone. It returns the
// arguments and how to describe them.
func FluentBitOutput(bin string) ([]string, string) {
	out, _ := exec.Command(bin, "-h").CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "null" {
			return []string{"-o", "null", "-m", "*"}, "-o null"
		}
	}
	return []string{"-o", "stdout", "-m", "no_such_tag"}, "-o stdout -m no_such_tag (no null output in this build: records routed nowhere)"
}

// InputRecords reads an input's record count (e.g. input "tail.0") from
// Fluent Bit's /api/v1/metrics at url (its HTTP server: -H -P PORT). The
// counters refresh about once a second.
func InputRecords(url, input string) (int, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var m struct {
		Input map[string]struct {
			Records int `json:"records"`
		} `json:"input"`
	}
	if err := json.NewDecoder(bufio.NewReader(resp.Body)).Decode(&m); err != nil {
		return 0, err
	}
	in, ok := m.Input[input]
	if !ok {
		return 0, fmt.Errorf("no input %s in the metrics", input)
	}
	return in.Records, nil
}
