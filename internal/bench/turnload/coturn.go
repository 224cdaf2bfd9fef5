package turnload

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pion/stun/v3"
)

// startCoturn runs Debian's coturn turnserver on loopback with the same
// policy as duet's benchmark child: REST secret, loopback peers allowed,
// relay ports of its own, no TLS, no CLI, no database outside a temp dir.
func startCoturn(bin, secret string) (*child, func(), error) {
	dir, err := os.MkdirTemp("", "turnload-coturn-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	port, err := freeUDPPort()
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	conf := fmt.Sprintf(`listening-ip=127.0.0.1
relay-ip=127.0.0.1
listening-port=%d
min-port=55000
max-port=59999
realm=duet
use-auth-secret
static-auth-secret=%s
allow-loopback-peers
no-tls
no-dtls
no-cli
no-software-attribute
userdb=%s
pidfile=%s
log-file=%s
simple-log
`, port, secret, filepath.Join(dir, "turndb"), filepath.Join(dir, "turnserver.pid"), filepath.Join(dir, "turn.log"))
	confPath := filepath.Join(dir, "turnserver.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		cleanup()
		return nil, nil, err
	}
	cmd := exec.Command(bin, "-c", confPath, "--no-stdout-log")
	stdin, err := cmd.StdinPipe() // unused by coturn; keeps child.stop uniform
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("turnload: start coturn: %w", err)
	}
	c := &child{cmd: cmd, stdin: stdin, pid: cmd.Process.Pid, addr: "127.0.0.1:" + strconv.Itoa(port)}
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		c.stop()
		cleanup()
	}
	if err := waitSTUN(c.addr, 10*time.Second); err != nil {
		stop()
		return nil, nil, fmt.Errorf("turnload: coturn not answering (log in %s): %w", dir, err)
	}
	return c, stop, nil
}

func freeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// waitSTUN polls addr with STUN binding requests until one is answered.
func waitSTUN(addr string, within time.Duration) error {
	conn, err := net.Dial("udp4", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline := time.Now().Add(within)
	buf := make([]byte, 1500)
	for time.Now().Before(deadline) {
		req := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
		_, _ = conn.Write(req.Raw)
		_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if n, err := conn.Read(buf); err == nil && stun.IsMessage(buf[:n]) {
			return nil
		}
	}
	return fmt.Errorf("no binding response within %v", within)
}
