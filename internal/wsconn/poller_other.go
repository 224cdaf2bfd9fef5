//go:build !linux

package wsconn

const pollerSupported = false

// poller is Linux-only; elsewhere every connection is read on a goroutine.
type poller struct{}

func pickPoller() *poller       { return nil }
func (*poller) add(*Conn) error { return nil }
func (*poller) remove(*Conn)    {}
func (*poller) pause(*Conn)     {}
func (*poller) kick(*Conn, End) {}
