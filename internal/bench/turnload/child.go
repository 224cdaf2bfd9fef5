package turnload

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/duet-call/duet/internal/turnserver"
)

// The relays under test run in child processes so that their CPU time can be
// read apart from the load generator's. A child is this same binary started
// again with childEnv set (the re-exec pattern): main calls RunChild first.
const (
	childEnv   = "TURNLOAD_CHILD"
	secretEnv  = "TURNLOAD_SECRET"
	sinkEnv    = "TURNLOAD_SINK"
	childReady = "ADDR "
)

// Child modes.
const (
	modeDuet      = "duet"       // internal/turnserver as duet runs it
	modeDuetStock = "duet-stock" // the same with pion's stock socket setup
	modeDuet1     = "duet-1loop" // duet with one read loop
	modeDuet2     = "duet-2loop" // duet with two read loops
	modeForwarder = "forwarder"
)

// RunChild runs a relay when this process was started as a benchmark child,
// and returns true once it has finished; it returns false at once otherwise.
// Call it at the top of main in any binary that runs Compare.
func RunChild() bool {
	mode := os.Getenv(childEnv)
	if mode == "" {
		return false
	}
	if err := runChild(mode); err != nil {
		fmt.Fprintln(os.Stderr, "turnload child:", err)
		os.Exit(1)
	}
	return true
}

// runChild serves until stdin closes: the parent holds the other end, so a
// child never outlives its parent.
func runChild(mode string) error {
	var addr string
	var stop func()
	switch mode {
	case modeDuet, modeDuetStock, modeDuet1, modeDuet2:
		cfg := turnserver.Config{
			Addr: "127.0.0.1:0", PublicIP: netip.MustParseAddr("127.0.0.1"),
			RelayBind: netip.MustParseAddr("127.0.0.1"), MinPort: 50000, MaxPort: 54999,
			Secret:     os.Getenv(secretEnv),
			AllowPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			// The relay's own speed is measured, not its per-allocation
			// cap or per-address quota (the load comes from one address).
			BandwidthBytes: -1, MaxAllocationsPerClient: -1, MaxConnsPerClient: -1,
		}
		// TURNLOAD_READ_LOOPS overrides the read loop count, for tuning.
		if n, err := strconv.Atoi(os.Getenv("TURNLOAD_READ_LOOPS")); err == nil {
			cfg.ReadLoops = n
		}
		switch mode {
		case modeDuet1:
			cfg.ReadLoops = 1
		case modeDuet2:
			cfg.ReadLoops = 2
		}
		if mode == modeDuetStock {
			cfg.ReadLoops, cfg.SocketBuffer = 1, -1
		}
		srv, err := turnserver.New(cfg, nil)
		if err != nil {
			return err
		}
		if err := srv.Start(context.Background()); err != nil {
			return err
		}
		addr = srv.UDPAddr().String()
		stop = func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		}
	case modeForwarder:
		f, err := NewForwarder("127.0.0.1:0", os.Getenv(sinkEnv), 8<<20)
		if err != nil {
			return err
		}
		addr = f.Addr().String()
		stop = func() { _ = f.Close() }
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	// TURNLOAD_CPUPROFILE=file profiles the relay, to see where its CPU goes.
	if path := os.Getenv("TURNLOAD_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	fmt.Println(childReady + addr)
	_, _ = io.Copy(io.Discard, os.Stdin)
	stop()
	return nil
}

// child is a running relay process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
	pid   int
}

// startChild starts this binary in mode and waits for its address.
func startChild(mode, secret, sink string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+mode, secretEnv+"="+secret, sinkEnv+"="+sink)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("turnload: start %s child: %w", mode, err)
	}
	c := &child{cmd: cmd, stdin: stdin, pid: cmd.Process.Pid}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, childReady) {
		c.stop()
		return nil, fmt.Errorf("turnload: %s child did not start (%q, %v)", mode, line, err)
	}
	c.addr = strings.TrimSpace(strings.TrimPrefix(line, childReady))
	return c, nil
}

// stop closes the child's stdin and waits for it, killing it after 10 s.
func (c *child) stop() {
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}
