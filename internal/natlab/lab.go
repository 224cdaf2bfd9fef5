package natlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Lab owns a set of network namespaces and the processes running in them.
// Every name it creates starts with its prefix, dl<pid>-<n>-, so parallel
// labs and parallel runs never collide, and the leftovers of a run that
// was killed can be recognised by a pid that no longer exists.
type Lab struct {
	prefix string

	mu     sync.Mutex
	nss    []string // created namespaces, in order
	procs  []*Proc  // started processes
	closed bool
}

var labSeq atomic.Int32

// cmdTimeout bounds each ip/nft/sysctl invocation: a hang detector only.
const cmdTimeout = 30 * time.Second

// Available reports why a lab cannot run here, or nil: it needs root, the
// ip and nft commands, and the right to create a network namespace, which
// it checks by creating and removing one.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("natlab: needs root to create network namespaces")
	}
	for _, tool := range []string{"ip", "nft", "sysctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("natlab: %s not found (apt-get install iproute2 nftables procps): %w", tool, err)
		}
	}
	probe := fmt.Sprintf("dl%d-probe", os.Getpid())
	if err := run(context.Background(), nil, "ip", "netns", "add", probe); err != nil {
		return fmt.Errorf("natlab: network namespaces unavailable: %w", err)
	}
	if err := run(context.Background(), nil, "ip", "netns", "del", probe); err != nil {
		return fmt.Errorf("natlab: removing probe namespace: %w", err)
	}
	return nil
}

// New starts an empty lab and arranges for it to be torn down if the
// process is interrupted (SIGINT, SIGTERM, SIGHUP) before Close. It first
// removes namespaces left by earlier lab runs whose process is gone.
func New() (*Lab, error) {
	if err := removeStale(); err != nil {
		return nil, err
	}
	l := &Lab{prefix: fmt.Sprintf("dl%d-%d-", os.Getpid(), labSeq.Add(1))}
	register(l)
	return l, nil
}

// Prefix is the prefix of every namespace name of this lab.
func (l *Lab) Prefix() string { return l.prefix }

// AddNS creates the namespace prefix+role with loopback up and IPv6 off
// (so candidates are the IPv4 ones the topology describes, not link-local
// IPv6 addresses on the veths) and returns its name.
func (l *Lab) AddNS(ctx context.Context, role string) (string, error) {
	name := l.prefix + role
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return "", errors.New("natlab: lab closed")
	}
	l.nss = append(l.nss, name) // before creating: Close removes a half-made one too
	l.mu.Unlock()
	if err := run(ctx, nil, "ip", "netns", "add", name); err != nil {
		return "", err
	}
	if err := l.IP(ctx, name, "link", "set", "lo", "up"); err != nil {
		return "", err
	}
	if err := l.Sysctl(ctx, name, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"); err != nil {
		return "", err
	}
	return name, nil
}

// IP runs `ip -n ns args...`.
func (l *Lab) IP(ctx context.Context, ns string, args ...string) error {
	return run(ctx, nil, "ip", append([]string{"-n", ns}, args...)...)
}

// Sysctl sets kernel parameters inside ns; the net.* ones are per namespace.
func (l *Lab) Sysctl(ctx context.Context, ns string, settings ...string) error {
	return run(ctx, nil, "ip", append([]string{"netns", "exec", ns, "sysctl", "-q", "-w"}, settings...)...)
}

// NFT loads an nftables ruleset into ns.
func (l *Lab) NFT(ctx context.Context, ns, ruleset string) error {
	return run(ctx, strings.NewReader(ruleset), "ip", "netns", "exec", ns, "nft", "-f", "-")
}

// Close stops every process of the lab (SIGTERM, then SIGKILL after a few
// seconds) and deletes its namespaces, which takes their veths, bridges and
// rules with them. It is safe to call twice and from a signal handler.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	procs, nss := l.procs, l.nss
	l.mu.Unlock()
	defer unregister(l)

	for _, p := range procs {
		p.Stop(5 * time.Second)
	}
	var errs []error
	for i := len(nss) - 1; i >= 0; i-- {
		if err := deleteNS(nss[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// deleteNS kills whatever still runs in ns (a process started outside the
// lab's bookkeeping would otherwise keep the namespace alive after its name
// is gone) and removes it. A namespace that does not exist is not an error.
func deleteNS(ns string) error {
	ctx := context.Background()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "ip", "netns", "pids", ns)
	cmd.Stdout = &out
	if cmd.Run() == nil {
		for _, f := range strings.Fields(out.String()) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	err := run(ctx, nil, "ip", "netns", "del", ns)
	if err != nil && !nsExists(ns) {
		return nil
	}
	return err
}

func nsExists(ns string) bool {
	_, err := os.Stat("/run/netns/" + ns)
	return err == nil
}

// staleName matches the namespaces labs create: dl<pid>-...
var staleName = regexp.MustCompile(`^dl([0-9]+)-`)

// removeStale deletes lab namespaces whose creating process no longer
// exists: the remains of a run that was SIGKILLed. Namespaces of live
// processes (parallel runs) are left alone, as is anything not named
// like a lab namespace.
func removeStale() error {
	var out bytes.Buffer
	cmd := exec.Command("ip", "netns", "list")
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("natlab: ip netns list: %w", err)
	}
	var errs []error
	for _, line := range strings.Split(out.String(), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		m := staleName.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pidAlive(pid) {
			continue
		}
		if err := deleteNS(name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// run runs one command and returns its output in the error when it fails.
func run(ctx context.Context, stdin *strings.Reader, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("natlab: %s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// The open labs, torn down by the signal watcher on an interrupt. The
// watcher runs only while a lab is open: the first register starts it, the
// last unregister stops it, and the process's default signal handling
// comes back.
var (
	regMu   sync.Mutex
	open    = map[*Lab]bool{}
	sigStop chan struct{}
)

func register(l *Lab) {
	regMu.Lock()
	defer regMu.Unlock()
	open[l] = true
	if sigStop != nil {
		return
	}
	sigStop = make(chan struct{})
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go watchSignals(sigs, sigStop)
}

func unregister(l *Lab) {
	regMu.Lock()
	defer regMu.Unlock()
	delete(open, l)
	if len(open) == 0 && sigStop != nil {
		close(sigStop)
		sigStop = nil
	}
}

func watchSignals(sigs chan os.Signal, stop chan struct{}) {
	defer signal.Stop(sigs)
	select {
	case <-stop:
		return
	case s := <-sigs:
		regMu.Lock()
		labs := make([]*Lab, 0, len(open))
		for l := range open {
			labs = append(labs, l)
		}
		regMu.Unlock()
		fmt.Fprintf(os.Stderr, "natlab: %v: removing %d lab(s)\n", s, len(labs))
		for _, l := range labs {
			if err := l.Close(); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
		}
		os.Exit(2)
	}
}
