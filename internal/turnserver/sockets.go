package turnserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// listenConfig returns a ListenConfig whose sockets get SO_REUSEPORT (when
// reuse is set) and bufSize bytes of receive and send buffer. As root,
// SO_RCVBUFFORCE/SO_SNDBUFFORCE lift the net.core.rmem_max cap; otherwise the
// kernel silently clamps SO_RCVBUF to rmem_max. The default of ~208 KiB is
// what makes stock pion/turn drop datagrams at 30–40k/s.
func listenConfig(reuse bool, bufSize int) net.ListenConfig {
	return net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if reuse {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			}
			if bufSize > 0 {
				setBuf(int(fd), unix.SO_RCVBUFFORCE, unix.SO_RCVBUF, bufSize)
				setBuf(int(fd), unix.SO_SNDBUFFORCE, unix.SO_SNDBUF, bufSize)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
}

// setBuf tries the privileged option first and falls back to the capped one.
// Failure only costs throughput, so it is not an error.
func setBuf(fd, force, plain, size int) {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, size) == nil {
		return
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, plain, size)
}

// readBufferSize reports the receive buffer the kernel actually granted
// (Linux reports double the requested value, bookkeeping included).
func readBufferSize(c *net.UDPConn) int {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	var n int
	_ = raw.Control(func(fd uintptr) {
		n, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	})
	return n
}

// listenUDP opens n UDP sockets on addr sharing one port through
// SO_REUSEPORT. The kernel spreads clients across them by a hash of the
// 4-tuple, so a client always reaches the same socket (and pion/turn
// allocation manager) for the life of its allocation. With port 0 the first
// socket picks the port and the others join it.
func listenUDP(ctx context.Context, addr string, n, bufSize int) ([]*net.UDPConn, error) {
	lc := listenConfig(n > 1, bufSize)
	conns := make([]*net.UDPConn, 0, n)
	closeAll := func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}
	for i := 0; i < n; i++ {
		pc, err := lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("turnserver: listen udp %s: %w", addr, err)
		}
		c := pc.(*net.UDPConn)
		conns = append(conns, c)
		if i == 0 {
			addr = c.LocalAddr().String()
		}
	}
	return conns, nil
}

// listenTCP binds TCP to the same host and port as the UDP socket, so one
// number goes in the firewall and in the TURN URLs. When the UDP port was
// picked by the kernel (port 0) and that TCP port is taken, it falls back to
// another free port: tests accept that, production names its port.
func listenTCP(ctx context.Context, host string, udpPort int, wantedPort string) (net.Listener, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(udpPort)))
	if err == nil {
		return l, nil
	}
	if wantedPort != "0" || !errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("turnserver: listen tcp %s: %w", net.JoinHostPort(host, wantedPort), err)
	}
	l, err = lc.Listen(ctx, "tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("turnserver: listen tcp %s: %w", net.JoinHostPort(host, "0"), err)
	}
	return l, nil
}
