package conf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCertPath writes ca.pem, cert.pem and key.pem as the Docker CLI
// expects them, into a new directory.
func writeCertPath(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(filepath.Join(dir, "ca.pem"), certPEM, 0o644)
	os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o644)
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return dir
}

func TestTLSResolution(t *testing.T) {
	t.Setenv("DOCKER_TLS_VERIFY", "")
	t.Setenv("DOCKER_CERT_PATH", "")
	certs := writeCertPath(t)
	cases := []struct {
		name string
		keys Map
		want *TLS
	}{
		{"unix socket: none", Map{}, nil},
		{"tcp without TLS keys: none", Map{"docker_host": "tcp://h:2375"}, nil},
		{"https: verified, system roots", Map{"docker_host": "https://h:2376"}, &TLS{Verify: true}},
		{"cert path", Map{"docker_host": "tcp://h:2376", "docker_cert_path": certs},
			&TLS{Verify: true, CA: filepath.Join(certs, "ca.pem"), Cert: filepath.Join(certs, "cert.pem"), Key: filepath.Join(certs, "key.pem")}},
		{"no verification", Map{"docker_host": "tcp://h:2376", "docker_tls_verify": "false"}, &TLS{}},
	}
	for _, c := range cases {
		cfg, err := Parse(c.keys)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if (cfg.TLS == nil) != (c.want == nil) || cfg.TLS != nil && *cfg.TLS != *c.want {
			t.Errorf("%s: TLS %+v, want %+v", c.name, cfg.TLS, c.want)
		}
	}
	// The environment applies when the keys are unset, as for the Docker CLI.
	t.Setenv("DOCKER_CERT_PATH", certs)
	t.Setenv("DOCKER_TLS_VERIFY", "1")
	if cfg, err := Parse(Map{"docker_host": "tcp://h:2376"}); err != nil || cfg.TLS == nil || cfg.TLS.CA != filepath.Join(certs, "ca.pem") {
		t.Errorf("from the environment: %+v, %v", cfg.TLS, err)
	}
	if cfg, err := Parse(Map{}); err != nil || cfg.TLS != nil {
		t.Errorf("the environment's TLS applied to a unix socket: %+v, %v", cfg.TLS, err)
	}
}

func TestTLSErrorsNameTheKey(t *testing.T) {
	t.Setenv("DOCKER_TLS_VERIFY", "")
	t.Setenv("DOCKER_CERT_PATH", "")
	certs := writeCertPath(t)
	junk := filepath.Join(t.TempDir(), "junk.pem")
	os.WriteFile(junk, []byte("not a certificate"), 0o644)
	cases := []struct {
		keys Map
		want string
	}{
		{Map{"docker_host": "tcp://h:1", "docker_cert_path": "/nonexistent"}, "invalid docker_cert_path"},
		{Map{"docker_host": "tcp://h:1", "docker_tls_ca": junk}, "invalid docker_tls_ca"},
		{Map{"docker_host": "tcp://h:1", "docker_tls_cert": filepath.Join(certs, "cert.pem")}, "a client certificate needs both"},
		{Map{"docker_host": "tcp://h:1", "docker_tls_cert": junk, "docker_tls_key": junk}, "invalid docker_tls_cert"},
		{Map{"docker_host": "tcp://h:1", "docker_tls_verify": "perhaps"}, "invalid docker_tls_verify"},
		{Map{"docker_cert_path": certs}, "need a tcp:// or https:// docker_host"},
		{Map{"docker_api_version": "v1.41"}, "invalid docker_api_version"},
	}
	for _, c := range cases {
		if _, err := Parse(c.keys); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want %q", c.keys, err, c.want)
		}
	}
	if cfg, err := Parse(Map{"docker_api_version": "1.41"}); err != nil || cfg.APIVersion != "1.41" {
		t.Errorf("docker_api_version 1.41: %q, %v", cfg.APIVersion, err)
	}
}
