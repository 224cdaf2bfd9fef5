package turnload

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// Config describes one load: where the relay is, how many allocations, and
// the datagrams to send.
type Config struct {
	// Server is the TURN server's UDP address. For the forwarder baseline
	// (Forward set) it is the forwarder's address.
	Server string
	// Secret is the TURN REST secret.
	Secret string
	// Allocations is the number of client allocations (K), each with its own
	// socket. Default 8.
	Allocations int
	// Size is the payload size of each datagram (multiple of 4). Default 1200.
	Size int
	// SockBuf is SO_RCVBUF/SO_SNDBUF for the load generator's sockets.
	// Default 8 MiB.
	SockBuf int
	// Sink is the local address of the sink peer; default 127.0.0.1:0.
	Sink string
	// Echo makes the sink send every datagram back through the relay, and
	// counts what returns to the clients instead: both relay directions.
	Echo bool
	// Forward skips TURN: the clients send bare payloads to Server, a plain
	// UDP forwarder that sends them on to the sink (see Forwarder).
	Forward bool
	// TLS makes Server a TURN-over-TLS address (a turns: port, or duet's
	// HTTPS port in one-port mode): each allocation is a TLS connection,
	// ChannelData goes over it. TLSConfig, when set, is the client config
	// (default: no certificate check, the bench measures, it does not
	// authenticate).
	TLS       bool
	TLSConfig *tls.Config
}

// Load is a set of live allocations and a sink, ready to run steps.
type Load struct {
	cfg    Config
	allocs []*allocation
	sink   *net.UDPConn
	frame  []byte

	got      atomic.Uint64 // datagrams of the right size received (sink, or clients with Echo)
	sinkDone chan struct{}
	readers  sync.WaitGroup // client readers (Echo), ended by Close
}

func (c *Config) defaults() {
	if c.Allocations <= 0 {
		c.Allocations = 8
	}
	if c.Size <= 0 {
		c.Size = 1200
	}
	if c.SockBuf <= 0 {
		c.SockBuf = 8 << 20
	}
}

// Open creates the sink and the allocations. Close it when done.
func Open(cfg Config) (*Load, error) {
	cfg.defaults()
	if cfg.Forward {
		cfg.Echo = false // an echo would loop through the forwarder forever
	}
	if cfg.Size%4 != 0 {
		return nil, fmt.Errorf("turnload: size %d is not a multiple of 4", cfg.Size)
	}
	var server *net.UDPAddr
	var err error
	if !cfg.TLS {
		if server, err = net.ResolveUDPAddr("udp4", cfg.Server); err != nil {
			return nil, fmt.Errorf("turnload: server %q: %w", cfg.Server, err)
		}
	}
	if cfg.Sink == "" {
		cfg.Sink = "127.0.0.1:0"
	}
	sinkAddr, err := net.ResolveUDPAddr("udp4", cfg.Sink)
	if err != nil {
		return nil, fmt.Errorf("turnload: sink %q: %w", cfg.Sink, err)
	}
	sink, err := net.ListenUDP("udp4", sinkAddr)
	if err != nil {
		return nil, fmt.Errorf("turnload: sink: %w", err)
	}
	forceBuffers(sink, cfg.SockBuf*4)
	l := &Load{cfg: cfg, sink: sink, sinkDone: make(chan struct{})}
	payload := make([]byte, cfg.Size)
	l.frame = channelData(payload)
	if cfg.Forward {
		l.frame = payload
	}
	for i := 0; i < cfg.Allocations; i++ {
		var a *allocation
		if cfg.Forward {
			conn, err := net.DialUDP("udp4", nil, server)
			if err != nil {
				l.Close()
				return nil, fmt.Errorf("turnload: dial forwarder: %w", err)
			}
			forceBuffers(conn, cfg.SockBuf)
			a = &allocation{conn: conn}
		} else if cfg.TLS {
			a, err = allocateTLS(cfg.Server, cfg.tlsConfig(), cfg.Secret, fmt.Sprintf("load%d", i), sink.LocalAddr().(*net.UDPAddr))
			if err != nil {
				l.Close()
				return nil, err
			}
		} else {
			a, err = allocate(server, cfg.Secret, fmt.Sprintf("load%d", i), sink.LocalAddr().(*net.UDPAddr), cfg.SockBuf)
			if err != nil {
				l.Close()
				return nil, err
			}
		}
		l.allocs = append(l.allocs, a)
	}
	go l.readSink()
	if cfg.Echo && !cfg.Forward {
		for _, a := range l.allocs {
			l.readers.Add(1)
			go l.readEchoes(a)
		}
	}
	return l, nil
}

// forceBuffers sets both socket buffers to size, past net.core.rmem_max when
// running as root, so that the load generator is never the one dropping.
func forceBuffers(c *net.UDPConn, size int) {
	raw, err := c.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, size)
		}
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, size) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, size)
		}
	})
}

// readSink counts arriving datagrams, in batches to keep the load
// generator's own CPU low. It ends when the sink is closed.
func (l *Load) readSink() {
	defer close(l.sinkDone)
	pc := ipv4.NewPacketConn(l.sink)
	msgs := make([]ipv4.Message, 64)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 2048)}
	}
	for {
		n, err := pc.ReadBatch(msgs, 0)
		if err != nil {
			return
		}
		if l.cfg.Echo {
			for i := range msgs[:n] {
				msgs[i].Buffers[0] = msgs[i].Buffers[0][:msgs[i].N]
			}
			_, _ = pc.WriteBatch(msgs[:n], 0)
			for i := range msgs[:n] {
				msgs[i].Buffers[0] = msgs[i].Buffers[0][:cap(msgs[i].Buffers[0])]
			}
			continue
		}
		var c uint64
		for _, m := range msgs[:n] {
			if m.N == l.cfg.Size {
				c++
			}
		}
		l.got.Add(c)
	}
}

// readEchoes counts ChannelData coming back to one client. It ends when the
// client socket is closed.
func (l *Load) readEchoes(a *allocation) {
	defer l.readers.Done()
	if a.stream != nil {
		a.stream.countChannelData(4+l.cfg.Size, &l.got)
		return
	}
	pc := ipv4.NewPacketConn(a.conn)
	msgs := make([]ipv4.Message, 32)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 2048)}
	}
	for {
		n, err := pc.ReadBatch(msgs, 0)
		if err != nil {
			return
		}
		var c uint64
		for _, m := range msgs[:n] {
			if m.N == 4+l.cfg.Size && m.Buffers[0][0] == channel>>8 {
				c++
			}
		}
		l.got.Add(c)
	}
}

// Close frees the allocations and the sink. UDP allocations are released
// (Refresh with lifetime 0), all at once, so that none outlives the load: a
// later socket on the same client port would otherwise meet it (437).
func (l *Load) Close() {
	var wg sync.WaitGroup
	for _, a := range l.allocs {
		if a.auth == nil {
			a.close() // the forwarder baseline, or not allocated
			continue
		}
		wg.Go(func() { _ = a.release() })
	}
	wg.Wait()
	l.readers.Wait()
	if l.sink != nil {
		_ = l.sink.Close()
		select {
		case <-l.sinkDone:
		case <-time.After(time.Second):
		}
	}
}

// Result is the outcome of one step.
type Result struct {
	Rate     int           // offered datagrams per second
	Sent     uint64        // datagrams sent
	Received uint64        // datagrams that reached the sink
	Elapsed  time.Duration // sending time
}

// Loss is the fraction of sent datagrams that did not arrive.
func (r Result) Loss() float64 {
	if r.Sent == 0 {
		return 0
	}
	return 1 - float64(r.Received)/float64(r.Sent)
}

// PPS is the received datagrams per second.
func (r Result) PPS() float64 { return float64(r.Received) / r.Elapsed.Seconds() }

// Mbps is the received payload in Mbit/s.
func (r Result) Mbps(size int) float64 { return r.PPS() * float64(size) * 8 / 1e6 }

// Step sends rate datagrams per second in total, spread over the
// allocations, for d (bounded by ctx), then waits briefly for stragglers and
// reports what arrived.
func (l *Load) Step(ctx context.Context, rate int, d time.Duration) (Result, error) {
	if rate <= 0 || d <= 0 {
		return Result{}, errors.New("turnload: rate and duration must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := l.got.Load()
	perAlloc := float64(rate) / float64(len(l.allocs))
	var sent atomic.Uint64
	var wg sync.WaitGroup
	errs := make(chan error, len(l.allocs))
	t0 := time.Now()
	for _, a := range l.allocs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := pace(ctx, a.writer(), l.frame, perAlloc, t0)
			sent.Add(n)
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	close(errs)
	// Let datagrams in flight arrive: queues on loopback drain in far less.
	time.Sleep(300 * time.Millisecond)
	r := Result{Rate: rate, Sent: sent.Load(), Received: l.got.Load() - start, Elapsed: elapsed}
	return r, <-errs
}

// pace sends frame on conn at perSecond datagrams per second until ctx ends,
// catching up in small bursts after each short sleep. The sequence number in
// the payload makes every datagram distinct.
func pace(ctx context.Context, conn interface{ Write([]byte) (int, error) }, frame []byte, perSecond float64, t0 time.Time) (uint64, error) {
	buf := append([]byte(nil), frame...)
	var n uint64
	for ctx.Err() == nil {
		due := uint64(time.Since(t0).Seconds() * perSecond)
		for n < due {
			binary.BigEndian.PutUint64(buf[len(buf)-8:], n)
			// A full socket queue is loss the step should see, not an
			// error; anything else (the server went away) ends the step.
			if _, err := conn.Write(buf); err != nil && !errors.Is(err, syscall.ENOBUFS) && !errors.Is(err, syscall.EAGAIN) {
				return n, fmt.Errorf("turnload: send: %w", err)
			}
			n++
		}
		time.Sleep(200 * time.Microsecond)
	}
	return n, nil
}
