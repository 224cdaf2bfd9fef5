package natlab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// maxLines bounds the output a Proc keeps per stream; a lab process that
// logs more than this is misbehaving, and the rest is dropped.
const maxLines = 20000

// Line is one line a process wrote, with when the lab read it.
type Line struct {
	At   time.Time
	Text string
}

// Proc is a command running inside a lab namespace. Its stdout and stderr
// are read line by line and kept, so tests can wait for a line and show
// the whole output when something fails.
type Proc struct {
	Name    string
	Started time.Time

	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{} // closed when the process has exited and its output is read
	err   error         // Wait's result, set before done closes

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on each new line
	out     map[string][]Line
}

// Start runs argv inside ns as `ip netns exec ns argv...`. ip execs the
// command, so signals sent to the Proc reach it directly. The process gets
// SIGKILL if the lab's process dies without cleaning up.
func (l *Lab) Start(name, ns string, argv ...string) (*Proc, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, errors.New("natlab: lab closed")
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Env = labEnv()
	p := &Proc{
		Name:    name,
		cmd:     cmd,
		done:    make(chan struct{}),
		changed: make(chan struct{}),
		out:     map[string][]Line{},
	}
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("natlab: starting %s: %w", name, err)
	}
	p.Started = time.Now()
	l.procs = append(l.procs, p)
	var readers sync.WaitGroup
	readers.Go(func() { p.read("stdout", stdout) })
	readers.Go(func() { p.read("stderr", stderr) })
	go func() { // owned by the process: ends when it exits
		readers.Wait() // Wait closes the pipes, so read them to the end first
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// labEnv is this process's environment without DUET_* variables, which
// duet reads as flags: a developer's DUET_SERVER must not steer the lab.
func labEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DUET_") {
			env = append(env, kv)
		}
	}
	return env
}

func (p *Proc) read(stream string, r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		p.mu.Lock()
		if len(p.out[stream]) < maxLines {
			p.out[stream] = append(p.out[stream], Line{At: time.Now(), Text: sc.Text()})
			close(p.changed)
			p.changed = make(chan struct{})
		}
		p.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r) // a line over the scanner's limit: drain
}

// WriteLine writes one line to the process's stdin.
func (p *Proc) WriteLine(s string) error {
	_, err := io.WriteString(p.stdin, s+"\n")
	return err
}

// WaitLine waits until stream ("stdout" or "stderr") has a line containing
// substr and returns the first such line. It fails when ctx ends or the
// process exits without writing one.
func (p *Proc) WaitLine(ctx context.Context, stream, substr string) (Line, error) {
	for {
		p.mu.Lock()
		for _, l := range p.out[stream] {
			if strings.Contains(l.Text, substr) {
				p.mu.Unlock()
				return l, nil
			}
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-p.done:
			if l, ok := p.Find(stream, substr); ok {
				return l, nil
			}
			return Line{}, fmt.Errorf("%s exited (%v) without writing %q on %s", p.Name, p.err, substr, stream)
		case <-ctx.Done():
			return Line{}, fmt.Errorf("%s: no %q on %s: %w", p.Name, substr, stream, context.Cause(ctx))
		}
	}
}

// Find returns the first line on stream containing substr, if any.
func (p *Proc) Find(stream, substr string) (Line, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.out[stream] {
		if strings.Contains(l.Text, substr) {
			return l, true
		}
	}
	return Line{}, false
}

// Output is everything the process wrote on stream so far.
func (p *Proc) Output(stream string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, l := range p.out[stream] {
		b.WriteString(l.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) error {
	return p.cmd.Process.Signal(sig)
}

// Wait waits for the process to exit and returns its exit code (-1 if a
// signal killed it), or an error if ctx ends first.
func (p *Proc) Wait(ctx context.Context) (int, error) {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), nil
	case <-ctx.Done():
		return 0, fmt.Errorf("%s still running: %w", p.Name, context.Cause(ctx))
	}
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Stop ends the process: SIGTERM, then SIGKILL if it is still running
// after grace. It returns once the process has exited.
func (p *Proc) Stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.stdin.Close()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}
