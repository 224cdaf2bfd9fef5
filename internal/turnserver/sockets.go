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

// listenBoth opens the UDP sockets and a TCP listener on the same port, so
// one number goes in the firewall and in the TURN URLs. With port 0 the
// kernel picks a free UDP port whose TCP twin may be taken; then it tries
// again with another port.
func listenBoth(ctx context.Context, addr string, loops, bufSize int) ([]*net.UDPConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("turnserver: address %q: %w", addr, err)
	}
	var lc net.ListenConfig
	for try := 0; ; try++ {
		udp, err := listenUDP(ctx, addr, loops, bufSize)
		if err != nil {
			return nil, nil, err
		}
		tcpAddr := net.JoinHostPort(host, strconv.Itoa(udp[0].LocalAddr().(*net.UDPAddr).Port))
		tcp, err := lc.Listen(ctx, "tcp", tcpAddr)
		if err == nil {
			return udp, tcp, nil
		}
		closeUDP(udp)
		if port != "0" || !errors.Is(err, syscall.EADDRINUSE) || try == 16 {
			return nil, nil, fmt.Errorf("turnserver: listen tcp %s: %w", tcpAddr, err)
		}
	}
}
