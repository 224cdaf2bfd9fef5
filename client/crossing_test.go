package client_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/duet-call/duet/protocol"
	"github.com/gorilla/websocket"
)

// crossProxy stands between peers and the duet server, as a slow network
// would, and makes offers cross: armed, it holds the next offer each
// proxied peer sends until every proxied peer has sent one (or, with a
// single proxied peer, until an offer reaches it from the other side),
// then lets them go together. Each peer then receives the other's offer
// after sending its own: glare, every time, with no timing to hope for.
// It also keeps every description that passed, for the tests' checks.
type crossProxy struct {
	t      testing.TB
	srv    *httptest.Server
	target string // the duet server's ws:// URL

	mu      sync.Mutex
	clients int        // proxied peers connected now
	armed   int        // crossings still to make
	held    []heldMsg  // offers held for the current crossing
	descs   []seenDesc // every description, in order
	crossed int        // crossings made
}

type heldMsg struct {
	up   *websocket.Conn
	data [][]byte    // the offer, then what the peer sent after it
	mu   *sync.Mutex // up's write lock
}

// seenDesc is a description and which proxied connection sent it (from)
// or received it (to).
type seenDesc struct {
	from, to int
	desc     protocol.SessionDescription
	crossed  bool // an offer held for a crossing
}

func newCrossProxy(t testing.TB, serverURL string) *crossProxy {
	p := &crossProxy{t: t, target: "ws" + strings.TrimPrefix(serverURL, "http") + "/ws"}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

// URL is what a peer dials instead of the server.
func (p *crossProxy) URL() string { return p.srv.URL }

// arm makes the next offers cross.
func (p *crossProxy) arm() {
	p.mu.Lock()
	p.armed++
	p.mu.Unlock()
}

// crossings is how many crossings were made.
func (p *crossProxy) crossings() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.crossed
}

// descriptions returns every description seen so far.
func (p *crossProxy) descriptions() []seenDesc {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]seenDesc(nil), p.descs...)
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (p *crossProxy) serve(w http.ResponseWriter, r *http.Request) {
	down, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer down.Close()
	up, _, err := websocket.DefaultDialer.Dial(p.target, nil)
	if err != nil {
		p.t.Errorf("proxy: dialing the server: %v", err)
		return
	}
	defer up.Close()
	p.mu.Lock()
	p.clients++
	id := p.clients
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.clients--
		p.mu.Unlock()
	}()

	var upMu, downMu sync.Mutex
	done := make(chan struct{})
	go func() { // server → peer
		defer close(done)
		for {
			_, data, err := up.ReadMessage()
			if err != nil {
				down.Close()
				return
			}
			if d, ok := description(data); ok {
				p.sawIncoming(id, d)
			}
			downMu.Lock()
			err = down.WriteMessage(websocket.TextMessage, data)
			downMu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	for { // peer → server
		_, data, err := down.ReadMessage()
		if err != nil {
			break
		}
		var dp *protocol.SessionDescription
		if d, ok := description(data); ok {
			dp = &d
		}
		if p.sawOutgoing(id, dp, up, data, &upMu) {
			continue // held
		}
		upMu.Lock()
		err = up.WriteMessage(websocket.TextMessage, data)
		upMu.Unlock()
		if err != nil {
			break
		}
	}
	up.Close()
	<-done
}

func description(data []byte) (protocol.SessionDescription, bool) {
	m, err := protocol.DecodeServer(data)
	if err != nil {
		return protocol.SessionDescription{}, false
	}
	d, ok := m.(*protocol.Description)
	if !ok {
		return protocol.SessionDescription{}, false
	}
	return d.Description, true
}

// sawOutgoing records a frame a peer sent (d, when it is a description)
// and reports whether it is held. Once a peer's offer is held, its later
// frames (its candidates) wait behind it, as they would behind a slow
// link: the server keeps a peer's messages in order, and so does this.
func (p *crossProxy) sawOutgoing(id int, d *protocol.SessionDescription, up *websocket.Conn, data []byte, mu *sync.Mutex) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d != nil {
		p.descs = append(p.descs, seenDesc{from: id, desc: *d})
	}
	for i := range p.held {
		if p.held[i].up == up {
			p.held[i].data = append(p.held[i].data, data)
			return true
		}
	}
	if p.armed == 0 || d == nil || d.Type != "offer" {
		return false
	}
	p.descs[len(p.descs)-1].crossed = true
	p.held = append(p.held, heldMsg{up: up, data: [][]byte{data}, mu: mu})
	if len(p.held) >= 2 {
		p.releaseLocked()
	}
	return true
}

// sawIncoming records d; an offer reaching the one proxied peer that holds
// an offer completes a crossing with an unproxied peer.
func (p *crossProxy) sawIncoming(id int, d protocol.SessionDescription) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.descs = append(p.descs, seenDesc{to: id, desc: d})
	if d.Type == "offer" && p.clients == 1 && len(p.held) == 1 {
		p.releaseLocked()
	}
}

func (p *crossProxy) releaseLocked() {
	for _, h := range p.held {
		h.mu.Lock()
		for _, data := range h.data {
			if err := h.up.WriteMessage(websocket.TextMessage, data); err != nil {
				p.t.Logf("proxy: releasing a held offer: %v", err)
				break
			}
		}
		h.mu.Unlock()
	}
	p.held = nil
	p.armed--
	p.crossed++
}
