package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnit: contrib/duet.service passes systemd-analyze verify
// (with ExecStart pointed at a binary that exists), and reload is SIGHUP,
// which duet survives (TestSIGHUPKeepsCommandsRunning).
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("DUET_E2E") != "" {
			t.Fatal("systemd-analyze not installed")
		}
		t.Skip("systemd-analyze not installed")
	}
	unit, err := os.ReadFile("../../contrib/duet.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"ExecStart=/usr/local/bin/duet serve\n",
		"ExecReload=/bin/kill -HUP $MAINPID\n",
		"DynamicUser=yes\n",
		"StateDirectory=duet\n",
		"AmbientCapabilities=CAP_NET_BIND_SERVICE\n",
		"ProtectSystem=strict\n",
	} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("the unit lacks %q", strings.TrimSpace(want))
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "duet.service")
	if err := os.WriteFile(local, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/duet ", self+" ")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", local).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
