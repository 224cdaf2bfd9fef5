// Package netcut gives tests a network path they can cut and restore: a
// UDP socket that, while cut, drops every packet both ways, as a network
// that went away would, and a pion SettingEngine that sends all of a
// peer's ICE traffic through it (pion's UDP mux), so cutting it breaks the
// media path and nothing else — signaling stays up.
package netcut

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duet-call/duet/client"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// Conn is a PacketConn whose path can be cut.
type Conn struct {
	net.PacketConn
	cut atomic.Bool
}

// SetCut cuts the path (true) or restores it (false).
func (c *Conn) SetCut(cut bool) { c.cut.Store(cut) }

// ReadFrom drops what arrives while the path is cut.
func (c *Conn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || !c.cut.Load() {
			return n, addr, err
		}
	}
}

// WriteTo loses what is sent while the path is cut.
func (c *Conn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.cut.Load() {
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, addr)
}

// Timeouts are pion's ICE timeouts, short so an outage shows in seconds.
type Timeouts struct {
	Disconnected, Failed, Keepalive time.Duration
}

// Engine returns the SDK's default SettingEngine with every ICE packet
// going through one UDP4 socket on ip (a cuttable Conn), and the mux closed
// when the test ends (after calls closed in later-registered cleanups). A
// loopback ip includes loopback candidates, which pion leaves out by
// default.
func Engine(t testing.TB, ip net.IP, to Timeouts) (*Conn, webrtc.SettingEngine) {
	t.Helper()
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ip})
	if err != nil {
		t.Fatal(err)
	}
	conn := &Conn{PacketConn: udp}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	t.Cleanup(func() { mux.Close() })
	se := client.DefaultSettingEngine()
	se.SetICEUDPMux(mux)
	if ip != nil && ip.IsLoopback() {
		se.SetIncludeLoopbackCandidate(true)
	}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICETimeouts(to.Disconnected, to.Failed, to.Keepalive)
	return conn, se
}
