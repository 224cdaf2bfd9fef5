package wsconn

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

const pollerSupported = true

// poller waits on one epoll instance for the connections given to it and
// reads them as they become readable. Its goroutine runs only while it
// has connections: add starts it, and it returns when the last one is
// removed, so an idle server (or a test that has closed everything) has no
// poller running.
type poller struct {
	epfd int
	// ep is epfd as a file in Go's own netpoller: the loop waits there
	// rather than blocking a thread in epoll_wait. A thread blocked in a
	// syscall keeps the runtime's monitor waking every few microseconds
	// to take its P back, which cost more CPU than the relaying itself at
	// low rates.
	ep   syscall.RawConn
	wake int // eventfd: kicks and the last removal wake the loop

	file *os.File // keeps epfd open

	mu      sync.Mutex
	conns   map[int]*Conn
	kicks   []kick
	running bool
}

type kick struct {
	c *Conn
	e End
}

var (
	pollersOnce sync.Once
	pollers     []*poller
	pollerErr   error
	nextPoller  atomic.Uint32
)

// pickPoller returns a poller, round-robin, or nil if epoll is unusable.
func pickPoller() *poller {
	pollersOnce.Do(func() {
		for range max(1, runtime.GOMAXPROCS(0)) {
			p, err := newPoller()
			if err != nil {
				pollerErr = err
				return
			}
			pollers = append(pollers, p)
		}
	})
	if len(pollers) == 0 {
		return nil
	}
	return pollers[int(nextPoller.Add(1))%len(pollers)]
}

// newPoller makes the epoll instance and its eventfd. They live as long as
// the process (two descriptors); the goroutine does not.
func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, fmt.Errorf("epoll_ctl eventfd: %w", err)
	}
	// An epoll descriptor is itself pollable: readable when it has events.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, fmt.Errorf("epoll nonblock: %w", err)
	}
	f := os.NewFile(uintptr(epfd), "wsconn-epoll")
	ep, err := f.SyscallConn()
	if err != nil {
		f.Close()
		unix.Close(wake)
		return nil, fmt.Errorf("epoll file: %w", err)
	}
	// f stays reachable through the poller so its finalizer never closes epfd.
	return &poller{epfd: epfd, ep: ep, file: f, wake: wake, conns: map[int]*Conn{}}, nil
}

// add watches c (level-triggered: a connection with bytes left unread is
// reported again on the next wait).
func (p *poller) add(c *Conn) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(c.fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl add: %w", err)
	}
	p.conns[c.fd] = c
	if !p.running {
		p.running = true
		go p.loop()
	}
	return nil
}

// remove stops watching c; it runs before c's socket is closed, so the
// descriptor cannot have been reused yet.
func (p *poller) remove(c *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns[c.fd] != c {
		return
	}
	delete(p.conns, c.fd)
	unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	if len(p.conns) == 0 {
		p.signal()
	}
}

// pause stops watching c's socket but keeps c on the poller, so kicks
// still reach it and the loop keeps running for it.
func (p *poller) pause(c *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns[c.fd] == c {
		unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	}
}

// kick ends c's reading on the loop, which owns it.
func (p *poller) kick(c *Conn, e End) {
	p.mu.Lock()
	p.kicks = append(p.kicks, kick{c, e})
	p.mu.Unlock()
	p.signal()
}

func (p *poller) signal() {
	var one = [8]byte{1}
	unix.Write(p.wake, one[:])
}

// loop waits and reads until no connection is left.
func (p *poller) loop() {
	events := make([]unix.EpollEvent, 128)
	// Reads go through one buffer per poller; what a connection leaves
	// incomplete is copied out to it.
	buf := make([]byte, 64<<10)
	var drain [8]byte
	for {
		var n int
		var err error
		// Wait without a timeout: when nothing is ready, returning false
		// parks this goroutine in Go's netpoller until epfd is readable.
		if rerr := p.ep.Read(func(uintptr) bool {
			n, err = unix.EpollWait(p.epfd, events, 0)
			return n != 0 || (err != nil && err != unix.EINTR)
		}); rerr != nil {
			panic(fmt.Sprintf("wsconn: epoll wait: %v", rerr)) // a closed epfd is a bug
		}
		if err != nil && err != unix.EINTR {
			panic(fmt.Sprintf("wsconn: epoll_wait: %v", err)) // a bad epfd is a bug
		}
		for _, ev := range events[:max(n, 0)] {
			fd := int(ev.Fd)
			if fd == p.wake {
				unix.Read(p.wake, drain[:])
				continue
			}
			p.mu.Lock()
			c := p.conns[fd]
			p.mu.Unlock()
			if c != nil {
				c.readReady(buf)
			}
		}
		p.mu.Lock()
		kicks := p.kicks
		p.kicks = nil
		p.mu.Unlock()
		for _, k := range kicks {
			k.c.end(k.e)
		}
		p.mu.Lock()
		if len(p.conns) == 0 && len(p.kicks) == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}
