package tests

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// newestGlibc is the glibc of Debian 12, which Fluent Bit's own container
// images are built on: the release .so must load there.
const newestGlibc = "2.36"

// make dist builds the archive users drop into their Fluent Bit: one
// directory with the stripped .so, the example configs, README, LICENSE and
// SHA256SUMS of them, plus the archive's own checksum next to it; the .so
// exports Fluent Bit's Go input callbacks and needs no newer glibc than
// Debian 12's.
func TestDist(t *testing.T) {
	version := fmt.Sprintf("test%d", os.Getpid())
	cmd := exec.Command("make", "--no-print-directory", "dist", "VERSION="+version)
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make dist: %v\n%s", err, out)
	}
	arch, err := exec.Command("go", "env", "GOARCH").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := fmt.Sprintf("docker_logs-%s-linux-%s", version, strings.TrimSpace(string(arch)))
	archive := filepath.Join(repoRoot, "build", dir+".tar.gz")
	t.Cleanup(func() {
		os.Remove(archive)
		os.Remove(archive + ".sha256")
		os.RemoveAll(filepath.Join(repoRoot, "build/dist", dir))
	})
	raw, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(archive + ".sha256")
	if want := sha256Hex(raw) + "  " + dir + ".tar.gz\n"; err != nil || string(sum) != want {
		t.Errorf("%s.sha256 = %q, %v; want %q", dir, sum, err, want)
	}
	files := untar(t, raw)
	examples, _ := filepath.Glob(filepath.Join(repoRoot, "conf/examples/*"))
	want := []string{"LICENSE", "README.md", "SHA256SUMS", "docker_logs.so"}
	for _, e := range examples {
		want = append(want, "examples/"+filepath.Base(e))
	}
	var got []string
	for name := range files {
		rel, ok := strings.CutPrefix(name, dir+"/")
		if !ok {
			t.Errorf("%s is outside the archive's directory %s", name, dir)
		}
		got = append(got, rel)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("archive holds %v, want %v", got, want)
	}
	var sums []string
	for _, f := range want {
		if f != "SHA256SUMS" {
			sums = append(sums, sha256Hex(files[dir+"/"+f])+"  "+f)
		}
	}
	if g, w := string(files[dir+"/SHA256SUMS"]), strings.Join(sums, "\n")+"\n"; g != w {
		t.Errorf("SHA256SUMS:\n%s\nwant:\n%s", g, w)
	}
	if !bytes.Contains(files[dir+"/LICENSE"], []byte("Apache License")) {
		t.Error("LICENSE is not the Apache License")
	}
	checkReleaseSO(t, files[dir+"/docker_logs.so"])
}

// checkReleaseSO: stripped, Fluent Bit's callbacks exported, glibc no
// newer than Debian 12's.
func checkReleaseSO(t *testing.T, so []byte) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(so))
	if err != nil {
		t.Fatalf("docker_logs.so: %v", err)
	}
	if f.Section(".symtab") != nil || f.Section(".debug_info") != nil {
		t.Error("docker_logs.so is not stripped (.symtab or .debug_info present)")
	}
	dyn, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, s := range dyn {
		if s.Section != elf.SHN_UNDEF {
			exported[s.Name] = true
		}
	}
	for _, cb := range []string{"FLBPluginRegister", "FLBPluginInit", "FLBPluginInputCallback", "FLBPluginInputCallbackCtx",
		"FLBPluginInputCleanupCallback", "FLBPluginInputCleanupCallbackCtx", "FLBPluginExit"} {
		if !exported[cb] {
			t.Errorf("docker_logs.so does not export %s", cb)
		}
	}
	imported, err := f.ImportedSymbols()
	if err != nil {
		t.Fatal(err)
	}
	newest := ""
	for _, s := range imported {
		if v, ok := strings.CutPrefix(s.Version, "GLIBC_"); ok && versionLess(newest, v) {
			newest = v
		}
	}
	if newest == "" {
		t.Fatal("no versioned glibc symbol found: the check reads nothing")
	}
	if versionLess(newestGlibc, newest) {
		t.Errorf("docker_logs.so needs glibc %s; Debian 12 has %s", newest, newestGlibc)
	}
	t.Logf("docker_logs.so: %d bytes, newest glibc symbol version %s", len(so), newest)
}

// versionLess compares dotted versions ("" is the lowest).
func versionLess(a, b string) bool {
	if a == "" {
		return b != ""
	}
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// untar returns a .tar.gz's regular files by name.
func untar(t *testing.T, gz []byte) map[string][]byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if files[h.Name], err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
}
