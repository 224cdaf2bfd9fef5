package clientaddr

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is a token bucket per client key (Info.Key), for the endpoints
// where one client must not use up what all share: call reports, WHIP
// offers. Its memory is bounded: keys idle long enough to have refilled
// are forgotten, and when MaxKeys are tracked at once a new key is
// refused rather than let the map grow (the refusal is what a flood of
// fresh addresses earns; existing clients keep their buckets).
type Limiter struct {
	rate    rate.Limit
	burst   int
	maxKeys int

	mu        sync.Mutex
	keys      map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

// DefaultMaxKeys bounds a Limiter's map: about 100 bytes a key.
const DefaultMaxKeys = 100_000

// NewLimiter allows each key perSecond events on average and burst at
// once. maxKeys <= 0 means DefaultMaxKeys.
func NewLimiter(perSecond float64, burst, maxKeys int) *Limiter {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Limiter{rate: rate.Limit(perSecond), burst: max(burst, 1), maxKeys: maxKeys, keys: map[string]*bucket{}}
}

// Allow reports whether key may have one more event now.
func (l *Limiter) Allow(key string) bool {
	return l.AllowAt(key, time.Now())
}

// AllowAt is Allow at a given time, for tests.
func (l *Limiter) AllowAt(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweepLocked(now)
	b := l.keys[key]
	if b == nil {
		if len(l.keys) >= l.maxKeys {
			return false
		}
		b = &bucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.keys[key] = b
	}
	b.last = now
	return b.lim.AllowN(now, 1)
}

// refill is how long a bucket takes to fill up from empty: a key idle
// that long is no different from a new one.
func (l *Limiter) refill() time.Duration {
	if l.rate <= 0 {
		return time.Hour
	}
	return time.Duration(float64(l.burst) / float64(l.rate) * float64(time.Second))
}

func (l *Limiter) sweepLocked(now time.Time) {
	every := max(l.refill(), time.Second)
	if now.Sub(l.lastSweep) < every {
		return
	}
	l.lastSweep = now
	for k, b := range l.keys {
		if now.Sub(b.last) >= every {
			delete(l.keys, k)
		}
	}
}

// Len is how many keys are tracked, for tests.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}
