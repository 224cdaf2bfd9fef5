package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duet-call/duet/protocol"
)

// legitCall relays numbered candidates a→b until stop, and checks every one
// arrives in order with nothing else in between.
func legitCall(a, b *websocket.Conn, stop <-chan struct{}, relayed *atomic.Int64) error {
	mid := "0"
	got := make(chan error, 1)
	const total = 100000
	sent := atomic.Int64{}
	go func() {
		for i := 0; ; i++ {
			b.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, data, err := b.ReadMessage()
			if err != nil {
				if i >= int(sent.Load()) {
					got <- nil // drained everything we sent
				} else {
					got <- fmt.Errorf("after %d of %d relays: %w", i, sent.Load(), err)
				}
				return
			}
			m, err := protocol.DecodeServer(data)
			c, ok := m.(*protocol.Candidate)
			if err != nil || !ok || c.Candidate.Candidate != fmt.Sprintf("candidate:%d", i) {
				got <- fmt.Errorf("relay %d: got %s", i, data)
				return
			}
			relayed.Add(1)
		}
	}()
	tick := time.NewTicker(50 * time.Millisecond) // 20/s, under the soak's limit of 25/s
	defer tick.Stop()
	for i := 0; i < total; i++ {
		select {
		case <-stop:
			// Give the last relays time to arrive, then end b's reader.
			deadline := time.Now().Add(5 * time.Second)
			for relayed.Load() < sent.Load() && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if relayed.Load() < sent.Load() {
				return fmt.Errorf("only %d of %d relays arrived", relayed.Load(), sent.Load())
			}
			b.SetReadDeadline(time.Now())
			return <-got
		case err := <-got:
			return err
		case <-tick.C:
		}
		c := &protocol.Candidate{Candidate: protocol.ICECandidate{Candidate: fmt.Sprintf("candidate:%d", i), SDPMid: &mid}}
		b2, _ := protocol.Encode(c)
		if err := a.WriteMessage(websocket.TextMessage, b2); err != nil {
			return fmt.Errorf("legit send %d: %w", i, err)
		}
		sent.Add(1)
	}
	return nil
}

func abuseMalformed(ctx context.Context, src, url string) error {
	c, err := dialFrom(ctx, src, url)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, f := range []string{`{"type":`, `nonsense`, `{"type":"join","v":1,"room":"../../x"}`} {
		c.WriteMessage(websocket.TextMessage, []byte(f))
	}
	want := []protocol.Code{protocol.CodeBadJSON, protocol.CodeBadJSON, protocol.CodeBadRoom}
	for _, code := range want {
		if _, ok := readUntil(c, 5*time.Second, isErr(code)); !ok {
			return fmt.Errorf("no %s", code)
		}
	}
	return nil
}

func abuseOversized(ctx context.Context, src, url string) error {
	c, err := dialFrom(ctx, src, url)
	if err != nil {
		return err
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping","x":"`+strings.Repeat("A", 64<<10)+`"}`))
	if code, _ := readUntil(c, 5*time.Second, nil); code != websocket.CloseMessageTooBig {
		return fmt.Errorf("close code %d, want 1009", code)
	}
	return nil
}

func abuseFlood(ctx context.Context, src, url string) error {
	c, err := dialFrom(ctx, src, url)
	if err != nil {
		return err
	}
	defer c.Close()
	go func() {
		for range 2000 {
			if c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)) != nil {
				return
			}
		}
	}()
	code, limited := readUntil(c, 10*time.Second, isErr(protocol.CodeRateLimited))
	if !limited {
		return errors.New("no rate-limited error")
	}
	if code == 0 {
		code, _ = readUntil(c, 10*time.Second, nil)
	}
	if code != websocket.ClosePolicyViolation {
		return fmt.Errorf("close code %d, want 1008", code)
	}
	return nil
}

func abuseGuess(ctx context.Context, src, url string) error {
	c, err := dialFrom(ctx, src, url)
	if err != nil {
		return err
	}
	defer c.Close()
	// Join random rooms, leaving each, until the join limit refuses us.
	for range 20 {
		b := make([]byte, 16)
		rand.Read(b)
		room := base64.RawURLEncoding.EncodeToString(b)
		c.WriteJSON(&protocol.Join{Type: protocol.TypeJoin, V: protocol.Version, Room: room})
		var refused bool
		_, ok := readUntil(c, 5*time.Second, func(m protocol.Message) bool {
			switch m := m.(type) {
			case *protocol.Joined:
				if m.PeerPresent {
					return true // found someone: must never happen
				}
				return true
			case *protocol.ErrorMessage:
				refused = m.Code == protocol.CodeRateLimited
				return true
			}
			return false
		})
		if !ok {
			return errors.New("no answer to join")
		}
		if refused {
			return nil
		}
		c.WriteJSON(&protocol.Leave{Type: protocol.TypeLeave})
	}
	return errors.New("20 joins and never rate-limited")
}

// abuseSilent upgrades and then never reads or writes: no pongs. The server
// must close it after its idle timeout.
func abuseSilent(ctx context.Context, src, url string) error {
	c, err := dialFrom(ctx, src, url)
	if err != nil {
		return err
	}
	defer c.Close()
	// Join a room so the place, too, must be freed.
	b := make([]byte, 16)
	rand.Read(b)
	c.WriteJSON(&protocol.Join{Type: protocol.TypeJoin, V: protocol.Version, Room: base64.RawURLEncoding.EncodeToString(b)})
	time.Sleep(7 * time.Second) // past the 5 s idle timeout, without reading
	// The server has given up on us: its close (or a reset) is waiting.
	// Generous, for a loaded machine: what matters is that it comes.
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return errors.New("server never closed a silent connection")
			}
			return nil
		}
	}
}

// abuseHalfOpenTCP sends half an HTTP request and stalls. The HTTP server's
// header timeout must close it.
func abuseHalfOpenTCP(ctx context.Context, src, url string) error {
	host := strings.TrimPrefix(strings.TrimSuffix(url, "/ws"), "ws://")
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n", host)
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 512)
	for {
		if _, err := c.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return errors.New("server kept a half-open request")
			}
			return nil
		}
	}
}

// abuseHoard opens cap+5 connections from one address; the extra ones must
// be refused with too-many-connections and 1013.
func abuseHoard(ctx context.Context, src, url string, limit int) error {
	var open []*websocket.Conn
	defer func() {
		for _, c := range open {
			c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			c.Close()
		}
	}()
	refused := 0
	for range limit + 5 {
		c, err := dialFrom(ctx, src, url)
		if err != nil {
			return err
		}
		open = append(open, c)
	}
	for _, c := range open {
		c.WriteJSON(&protocol.Ping{Type: protocol.TypePing})
		var tooMany bool
		code, _ := readUntil(c, 5*time.Second, func(m protocol.Message) bool {
			_, pong := m.(*protocol.Pong)
			tooMany = isErr(protocol.CodeTooManyConns)(m)
			return pong || tooMany
		})
		if tooMany {
			if code == 0 {
				code, _ = readUntil(c, 5*time.Second, nil)
			}
			if code != websocket.CloseTryAgainLater {
				return fmt.Errorf("refused with close %d, want 1013", code)
			}
			refused++
		}
	}
	if refused != 5 {
		return fmt.Errorf("%d of %d refused, want 5", refused, limit+5)
	}
	return nil
}
