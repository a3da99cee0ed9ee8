package conf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// TLS is how to speak TLS to the daemon, as the Docker CLI does.
type TLS struct {
	Verify        bool   // check the daemon's certificate
	CA, Cert, Key string // PEM files; CA empty: the system roots
}

// tlsKeys are set one by one by the key table, then resolved together.
type tlsKeys struct {
	verify, certPath, ca, cert, key string
}

// resolveTLS decides whether TLS is used and checks its files, each error
// naming its key. TLS is used for an https:// daemon, or a tcp:// one when
// any TLS key (or DOCKER_TLS_VERIFY / DOCKER_CERT_PATH) is set; then the
// daemon's certificate is verified unless docker_tls_verify is false.
func resolveTLS(host string, k tlsKeys) (*TLS, []error) {
	u, _ := url.Parse(host)
	explicit := k.verify != "" || k.certPath != "" || k.ca != "" || k.cert != "" || k.key != ""
	envVerify, envPath := os.Getenv("DOCKER_TLS_VERIFY"), os.Getenv("DOCKER_CERT_PATH")
	if u == nil || u.Scheme == "unix" {
		if explicit {
			return nil, []error{fmt.Errorf("invalid docker_host %q: the docker_tls_* and docker_cert_path keys need a tcp:// or https:// docker_host", host)}
		}
		return nil, nil // the environment's TLS settings do not apply to a socket
	}
	if k.verify == "" && envVerify != "" {
		k.verify = "true"
	}
	if k.certPath == "" {
		k.certPath = envPath
	}
	if u.Scheme != "https" && k.verify == "" && k.certPath == "" && k.ca == "" && k.cert == "" && k.key == "" {
		return nil, nil
	}
	t := &TLS{Verify: true}
	var errs []error
	if k.verify != "" {
		v, err := parseBool(k.verify)
		if err != nil {
			errs = append(errs, fmt.Errorf("invalid docker_tls_verify %q: %w", k.verify, err))
		}
		t.Verify = v
	}
	if k.certPath != "" {
		if st, err := os.Stat(k.certPath); err != nil || !st.IsDir() {
			errs = append(errs, fmt.Errorf("invalid docker_cert_path %q: expected a directory holding ca.pem, cert.pem and key.pem", k.certPath))
			return nil, errs
		}
		for _, f := range []struct {
			dst  *string
			name string
		}{{&k.ca, "ca.pem"}, {&k.cert, "cert.pem"}, {&k.key, "key.pem"}} {
			if *f.dst == "" {
				if p := filepath.Join(k.certPath, f.name); fileExists(p) {
					*f.dst = p
				}
			}
		}
	}
	t.CA, t.Cert, t.Key = k.ca, k.cert, k.key
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err == nil && !x509.NewCertPool().AppendCertsFromPEM(pem) {
			err = errors.New("no PEM certificate in it")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("invalid docker_tls_ca %q: %v", t.CA, err))
		}
	}
	switch {
	case (t.Cert == "") != (t.Key == ""):
		errs = append(errs, fmt.Errorf("invalid docker_tls_cert %q / docker_tls_key %q: a client certificate needs both", t.Cert, t.Key))
	case t.Cert != "":
		if _, err := tls.LoadX509KeyPair(t.Cert, t.Key); err != nil {
			errs = append(errs, fmt.Errorf("invalid docker_tls_cert %q / docker_tls_key %q: %v", t.Cert, t.Key, err))
		}
	}
	return t, errs
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// parseAPIVersion reads "1.41".
func parseAPIVersion(v string) (string, error) {
	major, minor, ok := strings.Cut(v, ".")
	if !ok || major != "1" || minor == "" || strings.Trim(minor, "0123456789") != "" {
		return "", errors.New("expected an API version such as 1.41")
	}
	return v, nil
}
