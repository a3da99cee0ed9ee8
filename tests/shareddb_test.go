package tests

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Two inputs with one db would each save only their containers over the
// other's: the second fails its init (Fluent Bit does not start), naming
// the key, the path and both instances. No daemon is needed: init does not
// wait for one.
func TestSharedDBRefused(t *testing.T) {
	db := filepath.Join(t.TempDir(), "positions.db")
	sock := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	args := instanceArgs(sock, "db="+db, "shard=1/2")
	args = append(args, instanceArgs(sock, "db="+db, "shard=2/2")...)
	h := startHost(t, args...)
	if code := h.exitCode(30 * time.Second); code != 255 {
		t.Fatalf("host exited %d, want 255 (init failure)", code)
	}
	msg := h.output.String()
	for _, want := range []string{
		fmt.Sprintf("[input:docker_logs:docker_logs.1] invalid db %q", db),
		"instance docker_logs.0 already keeps its positions in " + db,
		"docker_logs.0 and docker_logs.1",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the message does not say %q:\n%s", want, msg)
		}
	}
}
