package tests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker-logs/docker_logs/tests/internal/dockertest"
)

// pki writes a CA, a server certificate for 127.0.0.1 and a client one, as
// dockerd --tlsverify and the Docker CLI (DOCKER_CERT_PATH) use them.
type pki struct{ dir, server, client string }

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	p := pki{dir: dir, server: filepath.Join(dir, "server"), client: filepath.Join(dir, "client")}
	os.Mkdir(p.server, 0o700)
	os.Mkdir(p.client, 0o700)
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "docker_logs test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	write := func(path string, typ string, der []byte) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for i, leaf := range []struct {
		dir   string
		usage x509.ExtKeyUsage
	}{{p.server, x509.ExtKeyUsageServerAuth}, {p.client, x509.ExtKeyUsageClientAuth}} {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: "docker_logs test"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{leaf.usage}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		write(filepath.Join(leaf.dir, "cert.pem"), "CERTIFICATE", der)
		write(filepath.Join(leaf.dir, "key.pem"), "EC PRIVATE KEY", kb)
		write(filepath.Join(leaf.dir, "ca.pem"), "CERTIFICATE", caDER)
	}
	return p
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// A daemon that requires TLS with client certificates (dockerd
// --tlsverify on tcp://): with docker_cert_path the plugin verifies it and
// captures every line; with a CA that did not sign it, it says why and
// keeps retrying, without failing Fluent Bit's start.
func TestTLSDaemon(t *testing.T) {
	needDocker(t)
	p := newPKI(t)
	// A directory of this process's own: a daemon left running by an
	// earlier run would answer with its old certificates and port.
	dir := fmt.Sprintf("/tmp/dl-tls-%d", os.Getpid())
	var d *dockertest.Daemon
	var port int
	for try := 1; d == nil; try++ {
		// The port was free a moment ago; another process may take it
		// before dockerd binds it: then another one.
		port = freePort(t)
		var err error
		d, err = dockertest.SetupConfig(dockertest.Config{Dir: dir, ExtraArgs: fmt.Sprintf(
			"--tlsverify --tlscacert %s/ca.pem --tlscert %s/cert.pem --tlskey %s/key.pem -H tcp://127.0.0.1:%d",
			p.server, p.server, p.server, port)})
		if err != nil && try == 3 {
			t.Fatal(err) // the shared daemon started: this one must too
		}
	}
	defer func() {
		d.Teardown()
		os.RemoveAll(d.Dir())
	}()
	tcp := fmt.Sprintf("tcp://127.0.0.1:%d", port)

	h := startHost(t, append([]string{"--interval-ms", "200"}, instanceArgs(tcp, "docker_cert_path="+p.client)...)...)
	h.waitLog("connected to docker", 30*time.Second)
	id, err := d.Run(dockertest.Run{Name: "tls" + suffix(), Args: []string{"-n", "100", "-stream", "both"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Remove(id) })
	d.Wait(id)
	awaitEveryLineOnce(t, d, h, id)

	other := newPKI(t) // a CA that signed nothing of this daemon
	bad := startHost(t, append([]string{"--interval-ms", "200"}, instanceArgs(tcp, "docker_cert_path="+other.client)...)...)
	bad.waitLog("certificate", 30*time.Second)
	time.Sleep(time.Second)
	select {
	case <-bad.done:
		t.Fatalf("the host exited with a daemon it cannot verify: %v", bad.err)
	default:
	}
}
