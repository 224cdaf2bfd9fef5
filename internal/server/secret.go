package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LoadOrCreateSecret reads a hex secret from path, or makes a random one and
// writes it there (mode 0600). Resume tokens are signed with it, so keeping
// it across restarts lets calls' places survive a restart of the server.
func LoadOrCreateSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		s, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(s) < 16 {
			return nil, fmt.Errorf("secret file %s: want at least 32 hex digits", path)
		}
		return s, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	s := make([]byte, 32)
	rand.Read(s)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("secret dir: %w", err)
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(s)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write secret: %w", err)
	}
	return s, nil
}

// CheckPrivate returns an error if the file at path can be read or written
// by anyone but its owner. Whoever can read the resume secret can mint
// tokens that take the place of anyone in any room.
func CheckPrivate(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o: others can read or change it; run chmod 600 %s", path, perm, path)
	}
	return nil
}
