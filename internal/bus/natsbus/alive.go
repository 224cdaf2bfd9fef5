package natsbus

import (
	"sync"
	"time"
)

// liveness tracks when each other node was last heard from (a heartbeat or
// any envelope). A node is only declared gone while this node has itself
// been connected for a whole NodeTimeout: during our own NATS outage we hear
// nobody, and that says nothing about them.
type liveness struct {
	self    string
	timeout time.Duration

	mu        sync.Mutex
	last      map[string]time.Time
	connected bool
	upSince   time.Time
}

func (l *liveness) init(self string, timeout time.Duration) {
	l.self, l.timeout, l.last = self, timeout, map[string]time.Time{}
}

func (l *liveness) setConnected(up bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if up && !l.connected {
		l.upSince = now
		// Everyone gets a full timeout to be heard again.
		for n := range l.last {
			l.last[n] = now
		}
	}
	l.connected = up
}

func (l *liveness) seen(node string) {
	if node == "" || node == l.self {
		return
	}
	l.mu.Lock()
	l.last[node] = time.Now()
	l.mu.Unlock()
}

// watch starts timing a node we hold a place of but may never have heard
// (it could have died before we started).
func (l *liveness) watch(node string) {
	if node == l.self {
		return
	}
	l.mu.Lock()
	if _, ok := l.last[node]; !ok {
		l.last[node] = time.Now()
	}
	l.mu.Unlock()
}

// trusted reports whether our view is good enough to call a node dead.
func (l *liveness) trustedLocked(now time.Time) bool {
	return l.connected && now.Sub(l.upSince) > l.timeout
}

// alive reports whether node may still hold its places. Unknown nodes count
// as dead only once we have listened for a whole timeout without hearing them.
func (l *liveness) alive(node string, now time.Time) bool {
	if node == l.self {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.trustedLocked(now) {
		return true
	}
	t, ok := l.last[node]
	return ok && now.Sub(t) <= l.timeout
}

// heard reports whether node was heard from within the timeout: it is up.
func (l *liveness) heard(node string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.last[node]
	return ok && now.Sub(t) <= l.timeout
}

// expired removes and returns the nodes silent for longer than the timeout.
func (l *liveness) expired(now time.Time) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.trustedLocked(now) {
		return nil
	}
	var gone []string
	for n, t := range l.last {
		if now.Sub(t) > l.timeout {
			gone = append(gone, n)
			delete(l.last, n)
		}
	}
	return gone
}

func (l *liveness) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.last)
}
