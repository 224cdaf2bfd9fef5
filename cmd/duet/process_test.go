package main

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// duetProcess is the whole duet binary in a child process — this test
// binary again through TestMain's DUET_TEST_MAIN, which runs main's body
// with its signal handling — so signals reach it as they would in
// production.
type duetProcess struct {
	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// startDuet runs `duet args...`; args must not contain spaces. The
// process is killed when the test ends if it still runs.
func startDuet(t *testing.T, args ...string) *duetProcess {
	t.Helper()
	return startDuetEnv(t, nil, args...)
}

// startDuetEnv is startDuet with more environment variables.
func startDuetEnv(t *testing.T, env []string, args ...string) *duetProcess {
	t.Helper()
	for _, a := range args {
		if strings.ContainsAny(a, " \t\n") {
			t.Fatalf("argument %q has a space", a)
		}
	}
	p := &duetProcess{log: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = append(append(os.Environ(), env...), "DUET_TEST_MAIN="+strings.Join(args, " "))
	p.cmd.Stderr = p.log
	p.cmd.Stdout = p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("duet %s log:\n%s", args[0], p.log)
		}
	})
	return p
}

func (p *duetProcess) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// running reports whether the process has not exited.
func (p *duetProcess) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// waitExit waits for the process to end and returns its exit code.
func (p *duetProcess) waitExit(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("duet did not exit; log:\n%s", p.log)
	}
	if p.cmd.ProcessState == nil {
		t.Fatalf("no exit state: %v", p.err)
	}
	return p.cmd.ProcessState.ExitCode()
}

// hangUp sends SIGHUP, waits until the process logs that it took it (want
// appears one more time than before), and checks that it still runs.
func (p *duetProcess) hangUp(t *testing.T, want string) {
	t.Helper()
	before := strings.Count(p.log.String(), want)
	p.signal(t, syscall.SIGHUP)
	for deadline := time.Now().Add(10 * time.Second); strings.Count(p.log.String(), want) == before; time.Sleep(20 * time.Millisecond) {
		if !p.running() {
			t.Fatalf("SIGHUP ended the process (%v); log:\n%s", p.err, p.log)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log after SIGHUP:\n%s", want, p.log)
		}
	}
	if !p.running() {
		t.Fatalf("the process ended after SIGHUP (%v)", p.err)
	}
}
