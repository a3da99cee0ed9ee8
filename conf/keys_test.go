package conf

import (
	"strings"
	"testing"
)

// Every key's bad value fails Parse with a message naming the key; a key
// without a bad value must say why here. A new key without an entry fails.
func TestEveryKeyRejectsBadValue(t *testing.T) {
	bad := map[string]string{
		"docker_host": "ftp://x", "docker_tls_verify": "maybe", "docker_cert_path": "/nonexistent-dir",
		"docker_tls_ca": "/nonexistent.pem", "docker_tls_cert": "/nonexistent.pem", "docker_tls_key": "/nonexistent.pem",
		"docker_api_version": "latest", "read_from_head": "2", "include_names": "/(/", "exclude_names": "/(/",
		"include_labels": "=x", "exclude_labels": "=x", "include_images": "/(/", "exclude_images": "/(/",
		"include_self": "sometimes", "labels": "/(/", "record_fields": "container_id,labls", "tag_template": "docker.{name}", "buffer_max_size": "8Q", "chunk_max_size": "1",
		"max_line_size": "100", "stream_lifetime": "soon", "stream_idle_timeout": "-1s", "heartbeat_timeout": "0",
		"db": "/nonexistent-dir/x.db", "db.sync_interval": "1w", "db.commit_delay": "x", "shard": "5/4",
		"plugin_log_level": "loud", "status_listen": "nohost", "status_pprof": "maybe",
		"source": "disk", "docker_data_root": "var/lib/docker",
	}
	anyValue := map[string]string{"hostname": "any text is a host name"}
	for _, k := range Keys {
		v, ok := bad[k.Name]
		if !ok {
			if _, ok := anyValue[k.Name]; !ok {
				t.Errorf("key %s has no bad value in this table", k.Name)
			}
			continue
		}
		extra := Map{k.Name: v}
		if strings.HasPrefix(k.Name, "docker_tls_") || k.Name == "docker_cert_path" {
			extra["docker_host"] = "tcp://127.0.0.1:2376"
		}
		_, err := Parse(extra)
		if err == nil || !strings.Contains(err.Error(), k.Name) {
			t.Errorf("%s=%q: err = %v, want one naming the key", k.Name, v, err)
		}
	}
}
