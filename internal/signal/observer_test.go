package signal

import (
	"sync"
	"testing"
	"time"

	"github.com/duet-call/duet/protocol"
)

type countingObserver struct {
	mu sync.Mutex
	n  map[string]int
}

func (o *countingObserver) inc(k string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = map[string]int{}
	}
	o.n[k]++
}

func (o *countingObserver) get(k string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n[k]
}

func (o *countingObserver) Connected()              { o.inc("connected") }
func (o *countingObserver) Disconnected()           { o.inc("disconnected") }
func (o *countingObserver) Refused(c protocol.Code) { o.inc("refused:" + string(c)) }
func (o *countingObserver) Joined(resumed bool)     { o.inc("joined") }
func (o *countingObserver) Paired(time.Duration)    { o.inc("paired") }
func (o *countingObserver) Left(reason string)      { o.inc("left:" + reason) }
func (o *countingObserver) Relayed()                { o.inc("relayed") }
func (o *countingObserver) RelayTime(time.Duration) { o.inc("relay-time") }
func (o *countingObserver) Dropped()                { o.inc("dropped") }
func (o *countingObserver) Overflow()               { o.inc("overflow") }

func TestObserverCounts(t *testing.T) {
	o := &countingObserver{}
	_, url := startHub(t, Config{Observer: o})
	a, b := pair(t, url, "obs")
	a.send(candidate(1))
	expect[*protocol.Candidate](b)
	c := dial(t, url)
	c.join("obs")
	c.expectError(protocol.CodeRoomFull)
	b.send(&protocol.Leave{})
	expect[*protocol.PeerLeft](a)
	a.send(candidate(2)) // no partner now: dropped
	a.send(&protocol.Ping{})
	expect[*protocol.Pong](a)

	want := map[string]int{"connected": 3, "joined": 2, "paired": 1, "relayed": 1, "relay-time": 1, "dropped": 1,
		"refused:room-full": 1, "left:left": 1}
	for k, v := range want {
		if got := o.get(k); got != v {
			t.Errorf("%s = %d, want %d", k, got, v)
		}
	}
}
