package natlab_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/natlab"
)

// labNamespaces lists the namespaces whose name starts with prefix.
func labNamespaces(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if name != "" && strings.HasPrefix(name, prefix) {
			found = append(found, name)
		}
	}
	return found
}

func TestCloseRemovesEverything(t *testing.T) {
	requireLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lab, err := natlab.New()
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Close()
	n, err := natlab.Build(ctx, lab, natlab.Topology{B: natlab.NAT{Kind: natlab.Symmetric}})
	if err != nil {
		t.Fatal(err)
	}
	if got := labNamespaces(t, lab.Prefix()); len(got) != 6 {
		t.Fatalf("built %v, want 6 namespaces", got)
	}
	sleeper, err := lab.Start("sleep", n.PeerA, "sleep", "600")
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Close(); err != nil {
		t.Fatal(err)
	}
	if err := lab.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	select {
	case <-sleeper.Done():
	default:
		t.Error("a process of the lab outlived Close")
	}
	if left := labNamespaces(t, lab.Prefix()); len(left) > 0 {
		t.Errorf("namespaces left after Close: %v", left)
	}
}

// A namespace of a lab whose process is gone (SIGKILL) is removed by the
// next lab; one of a live process (a parallel run) is not.
func TestNewRemovesStaleNamespaces(t *testing.T) {
	requireLab(t)
	dead := deadPID(t)
	stale := fmt.Sprintf("dl%d-1-srv", dead)
	live := fmt.Sprintf("dl%d-999-keep", os.Getpid())
	for _, ns := range []string{stale, live} {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add %s: %v: %s", ns, err, out)
		}
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	lab, err := natlab.New()
	if err != nil {
		t.Fatal(err)
	}
	lab.Close()
	if got := labNamespaces(t, stale); len(got) > 0 {
		t.Errorf("stale namespace %s was not removed", stale)
	}
	if got := labNamespaces(t, live); len(got) != 1 {
		t.Errorf("namespace %s of a live process was removed", live)
	}
}

// deadPID is a pid no process has.
func deadPID(t *testing.T) int {
	for pid := 4194000; pid < 4194300; pid++ {
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			return pid
		}
	}
	t.Fatal("no free pid found")
	return 0
}

// An interrupted lab run removes its namespaces before exiting: the test
// re-runs itself as a child that builds a lab and waits, then sends it
// SIGINT.
func TestInterruptRemovesLab(t *testing.T) {
	if os.Getenv("NATLAB_INTERRUPT_CHILD") == "1" {
		interruptChild()
		return
	}
	requireLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestInterruptRemovesLab$")
	cmd.Env = append(os.Environ(), "NATLAB_INTERRUPT_CHILD=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var prefix string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "lab ready: "); ok {
			prefix = p
			break
		}
	}
	if prefix == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("child never built its lab")
	}
	if got := labNamespaces(t, prefix); len(got) == 0 {
		t.Fatalf("child reported lab %s but no namespace exists", prefix)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, out) // to EOF: the child has exited
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 2 {
		t.Errorf("interrupted child exited %d (%v), want 2", code, err)
	}
	if left := labNamespaces(t, prefix); len(left) > 0 {
		t.Errorf("namespaces left after the interrupt: %v", left)
		for _, ns := range left {
			exec.Command("ip", "netns", "del", ns).Run()
		}
	}
}

func interruptChild() {
	ctx := context.Background()
	lab, err := natlab.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	n, err := natlab.Build(ctx, lab, natlab.Topology{})
	if err == nil {
		_, err = lab.Start("sleep", n.PeerB, "sleep", "600")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		lab.Close()
		os.Exit(1)
	}
	fmt.Printf("lab ready: %s\n", lab.Prefix())
	time.Sleep(time.Minute) // the parent interrupts long before
	lab.Close()
	os.Exit(3)
}
