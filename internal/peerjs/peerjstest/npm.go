// Package peerjstest fetches the real PeerJS parts from the npm registry for
// tests and benchmarks: the `peerjs` browser client and the reference
// `peer` server, run with Node. Nothing from them is copied into duet; they
// are installed into a cache directory outside the repository.
package peerjstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// The versions tested against. The reference figures in docs are for these.
const (
	ClientPackage = "peerjs@1.5.5"
	ServerPackage = "peer@1.0.2"
)

// ErrNoNode means node or npm is not installed.
var ErrNoNode = errors.New("peerjstest: node and npm are needed (apt-get install nodejs npm)")

// CacheDir is where packages are installed: $XDG_CACHE_HOME/duet-npm, or
// duet-npm under the system temp directory.
func CacheDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "duet-npm")
	}
	return filepath.Join(os.TempDir(), "duet-npm")
}

var installMu sync.Mutex // one npm at a time in this process

// Install installs pkg ("name@version") with `npm install --prefix` into its
// own directory under CacheDir, once, and returns the package's directory
// (…/node_modules/name). Concurrent processes are kept apart by installing
// into a temporary prefix and renaming it into place.
func Install(ctx context.Context, pkg string) (string, error) {
	name, _, ok := cutVersion(pkg)
	if !ok {
		return "", fmt.Errorf("peerjstest: %q: want name@version", pkg)
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return "", ErrNoNode
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "", ErrNoNode
	}
	installMu.Lock()
	defer installMu.Unlock()
	prefix := filepath.Join(CacheDir(), pkg)
	dir := filepath.Join(prefix, "node_modules", name)
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(CacheDir(), 0o755); err != nil {
		return "", fmt.Errorf("peerjstest: %w", err)
	}
	tmp, err := os.MkdirTemp(CacheDir(), ".install-")
	if err != nil {
		return "", fmt.Errorf("peerjstest: %w", err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "install", "--prefix", tmp,
		"--no-audit", "--no-fund", "--no-package-lock", "--omit=dev", "--loglevel=error", pkg)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("peerjstest: npm install %s: %w\n%s", pkg, err, out.Bytes())
	}
	if err := os.Rename(tmp, prefix); err != nil && !errors.Is(err, os.ErrExist) {
		if _, statErr := os.Stat(filepath.Join(dir, "package.json")); statErr != nil {
			return "", fmt.Errorf("peerjstest: %w", err)
		}
	}
	return dir, nil
}

func cutVersion(pkg string) (name, version string, ok bool) {
	// Scoped names start with @; the version's @ is the last one.
	i := bytes.LastIndexByte([]byte(pkg), '@')
	if i <= 0 {
		return "", "", false
	}
	return pkg[:i], pkg[i+1:], true
}
