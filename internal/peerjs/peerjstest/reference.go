package peerjstest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Reference is a running reference PeerJS server (`peerjs` from npm `peer`).
type Reference struct {
	Port int
	Path string // mount path, such as /peerjs
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
	stop sync.Once
}

// RefOptions are the reference server's command-line options that tests
// and benchmarks set; zero values keep its defaults.
type RefOptions struct {
	Path            string // default /peerjs, to match duet's default
	ExpireTimeout   time.Duration
	AliveTimeout    time.Duration
	ConcurrentLimit int
}

// StartReference installs the reference server if needed and starts it with
// node on a free loopback port, waiting until it answers HTTP. Stop it with
// Stop.
func StartReference(ctx context.Context, opt RefOptions) (*Reference, error) {
	dir, err := Install(ctx, ServerPackage)
	if err != nil {
		return nil, err
	}
	if opt.Path == "" {
		opt.Path = "/peerjs"
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{filepath.Join(dir, "dist", "bin", "peerjs.js"),
		"--host", "127.0.0.1", "--port", strconv.Itoa(port), "--path", opt.Path}
	if opt.ExpireTimeout > 0 {
		args = append(args, "--expire_timeout", strconv.FormatInt(opt.ExpireTimeout.Milliseconds(), 10))
	}
	if opt.AliveTimeout > 0 {
		args = append(args, "--alive_timeout", strconv.FormatInt(opt.AliveTimeout.Milliseconds(), 10))
	}
	if opt.ConcurrentLimit > 0 {
		args = append(args, "--concurrent_limit", strconv.Itoa(opt.ConcurrentLimit))
	}
	cmd := exec.Command("node", args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("peerjstest: start node: %w", err)
	}
	r := &Reference{Port: port, Path: opt.Path, cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { r.done <- cmd.Wait() }() // owned by r; ends when the process does
	if err := r.waitReady(ctx); err != nil {
		r.Stop()
		return nil, err
	}
	return r, nil
}

// URL is the base HTTP URL of the mount path.
func (r *Reference) URL() string { return fmt.Sprintf("http://127.0.0.1:%d%s", r.Port, r.Path) }

// Pid is the node process id, for memory measurements.
func (r *Reference) Pid() int { return r.cmd.Process.Pid }

// Output is what the server printed so far.
func (r *Reference) Output() string { return r.out.String() }

func (r *Reference) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		resp, err := http.Get(r.URL())
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-r.done:
			r.done <- err
			return fmt.Errorf("peerjstest: reference server exited: %v\n%s", err, r.Output())
		case <-ctx.Done():
			return fmt.Errorf("peerjstest: reference server not ready: %w\n%s", ctx.Err(), r.Output())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop ends the server (SIGTERM, then SIGKILL after 5 s) and waits for it.
func (r *Reference) Stop() {
	r.stop.Do(func() {
		r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
			r.cmd.Process.Kill()
			<-r.done
		}
	})
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("peerjstest: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 {
		return len(p), nil // bounded: keep the start, where errors show
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
