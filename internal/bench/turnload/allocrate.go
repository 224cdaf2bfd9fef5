package turnload

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// AllocResult is the outcome of AllocRate.
type AllocResult struct {
	Done    int           // allocations made and freed
	Failed  int           // attempts that got an error
	Elapsed time.Duration // wall time of the run
}

// PerSecond is the allocations made per second.
func (r AllocResult) PerSecond() float64 { return float64(r.Done) / r.Elapsed.Seconds() }

// AllocRate makes n allocations through cfg.Server, conc at a time, each on
// a new socket (UDP) or a new TLS connection (cfg.TLS), freeing each at once
// (Refresh with lifetime 0; closing the connection over TLS) so that the
// server's quotas see at most conc at a time. What one costs is what a
// browser's call setup costs the relay: the 401 challenge round, the
// authenticated Allocate and, over TLS, a TCP and TLS handshake.
func AllocRate(ctx context.Context, cfg Config, n, conc int) (AllocResult, error) {
	cfg.defaults()
	if n <= 0 || conc <= 0 {
		return AllocResult{}, errors.New("turnload: allocations and concurrency must be positive")
	}
	var server *net.UDPAddr
	if !cfg.TLS {
		var err error
		if server, err = net.ResolveUDPAddr("udp4", cfg.Server); err != nil {
			return AllocResult{}, fmt.Errorf("turnload: server %q: %w", cfg.Server, err)
		}
	}
	var next, done, failed atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < conc; w++ {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				user := fmt.Sprintf("rate%d", i)
				var err error
				for try := 0; try < 3; try++ {
					var a *allocation
					if cfg.TLS {
						a, err = allocateTLS(cfg.Server, cfg.tlsConfig(), cfg.Secret, user, nil)
					} else {
						a, err = allocate(server, cfg.Secret, user, nil, 1<<16)
					}
					if err == nil {
						err = a.release()
					}
					// 437: the kernel gave this socket the port of a closed
					// one whose allocation the server still holds (another
					// tool's); a new socket gets another port.
					if err == nil || !strings.Contains(err.Error(), "error 437") {
						break
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, &err)
					continue
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	r := AllocResult{Done: int(done.Load()), Failed: int(failed.Load()), Elapsed: time.Since(t0)}
	if p := firstErr.Load(); p != nil && r.Done == 0 {
		return r, *p
	}
	return r, nil
}
