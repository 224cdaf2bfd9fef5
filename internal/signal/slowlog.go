package signal

import (
	"log/slog"
	"sync"
	"time"
)

// slowLogEvery is how often at most a slow client's disconnection is
// logged; the ones in between are counted in the next line (and each is
// counted in the overflow metric).
const slowLogEvery = 10 * time.Second

// slowLog rate-limits "disconnecting slow client": a flood of clients that
// do not read must not become a flood of log lines. Its lock is a leaf,
// taken with or without Hub.mu, and nothing is logged while it is held.
type slowLog struct {
	mu     sync.Mutex
	last   time.Time
	missed int
}

func (l *slowLog) disconnected(log *slog.Logger, addr string, now time.Time) {
	l.mu.Lock()
	if !l.last.IsZero() && now.Sub(l.last) < slowLogEvery {
		l.missed++
		l.mu.Unlock()
		return
	}
	missed := l.missed
	l.last, l.missed = now, 0
	l.mu.Unlock()
	log.Info("disconnecting slow client", "remote", addr, "unlogged_since_last", missed)
}
