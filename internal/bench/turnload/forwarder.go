package turnload

import (
	"fmt"
	"net"
)

// Forwarder is the ceiling the relays are measured against: a UDP socket
// that sends every datagram it receives on to one address, with none of
// TURN's work (no parsing, no lookup, no permission check).
type Forwarder struct {
	conn *net.UDPConn
	to   *net.UDPAddr
	done chan struct{}
}

// NewForwarder listens on listen and forwards to to.
func NewForwarder(listen, to string, sockBuf int) (*Forwarder, error) {
	la, err := net.ResolveUDPAddr("udp4", listen)
	if err != nil {
		return nil, fmt.Errorf("turnload: forwarder listen %q: %w", listen, err)
	}
	ta, err := net.ResolveUDPAddr("udp4", to)
	if err != nil {
		return nil, fmt.Errorf("turnload: forwarder target %q: %w", to, err)
	}
	conn, err := net.ListenUDP("udp4", la)
	if err != nil {
		return nil, fmt.Errorf("turnload: forwarder: %w", err)
	}
	forceBuffers(conn, sockBuf)
	f := &Forwarder{conn: conn, to: ta, done: make(chan struct{})}
	go f.loop()
	return f, nil
}

func (f *Forwarder) loop() {
	defer close(f.done)
	buf := make([]byte, 2048)
	for {
		n, _, err := f.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		_, _ = f.conn.WriteToUDP(buf[:n], f.to)
	}
}

// Addr is the forwarder's listening address.
func (f *Forwarder) Addr() *net.UDPAddr { return f.conn.LocalAddr().(*net.UDPAddr) }

// Close stops the forwarder and waits for its goroutine.
func (f *Forwarder) Close() error {
	err := f.conn.Close()
	<-f.done
	return err
}
