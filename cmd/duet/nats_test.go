package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/duet-call/duet/protocol"
)

func startTestNATS(t *testing.T) *natsserver.Server {
	t.Helper()
	s, err := natsserver.NewServer(&natsserver.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metricValues parses /metrics (failing on a bad exposition) into
// name → value for counters and gauges, labelled series keyed as the
// exposition prints them: name{label="value",...}.
func metricValues(t *testing.T, base string) map[string]float64 {
	t.Helper()
	_, body := httpGet(t, base+"/metrics")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			key := name
			if len(m.GetLabel()) > 0 {
				var ls []string
				for _, l := range m.GetLabel() {
					ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
				}
				key += "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			}
		}
	}
	return out
}

func wsJoin(t *testing.T, base, room string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	b, _ := protocol.Encode(&protocol.Join{V: protocol.Version, Room: room})
	c.WriteMessage(websocket.TextMessage, b)
	if _, ok := wsNext(t, c).(*protocol.Joined); !ok {
		t.Fatal("join refused")
	}
	return c
}

func wsNext(t *testing.T, c *websocket.Conn) protocol.Message {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	m, err := protocol.DecodeServer(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestServeCluster: two `duet serve --nats` processes (in-process here) with
// the embedded TURN server share a room; /readyz checks TURN and NATS, and
// /metrics parses with the TURN and NATS series in it.
func TestServeCluster(t *testing.T) {
	ns := startTestNATS(t)
	args := []string{"--nats", ns.ClientURL(), "--nats-node-timeout", "1s",
		"--turn-addr", "127.0.0.1:0", "--turn-public-ip", "127.0.0.1", "--peerjs=false"}
	url0, _ := startServe(t, args...)
	url1, _ := startServe(t, args...)

	for _, u := range []string{url0, url1} {
		if code, body := httpGet(t, u+"/readyz"); code != 200 {
			t.Fatalf("%s/readyz: %d %s", u, code, body)
		}
	}
	a := wsJoin(t, url0, "served")
	b := wsJoin(t, url1, "served")
	if _, ok := wsNext(t, a).(*protocol.PeerJoined); !ok {
		t.Fatal("a was not told b joined from the other node")
	}
	mid := "0"
	msg, _ := protocol.Encode(&protocol.Candidate{Candidate: protocol.ICECandidate{Candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host", SDPMid: &mid}})
	a.WriteMessage(websocket.TextMessage, msg)
	if c, ok := wsNext(t, b).(*protocol.Candidate); !ok || !bytes.Contains([]byte(c.Candidate.Candidate), []byte("127.0.0.1 9")) {
		t.Fatalf("b got %+v", c)
	}

	m0 := metricValues(t, url0)
	for name, want := range map[string]float64{
		"duet_nats_connected":                1,
		"duet_nats_nodes":                    1,
		"duet_signal_messages_relayed_total": 1,
		"duet_turn_allocations":              0,
		"duet_nats_places_restored_total":    0,
		// The TURN self-test at start: one permission, and its 20-byte
		// datagram to the loopback peer and back.
		"duet_turn_permissions_created_total":                  1,
		`duet_turn_relayed_bytes_total{direction="to_peer"}`:   20,
		`duet_turn_relayed_bytes_total{direction="to_client"}`: 20,
	} {
		if got, ok := m0[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	if _, ok := m0["duet_turn_permissions"]; !ok {
		t.Error("duet_turn_permissions missing")
	}
	if m0["duet_nats_envelopes_sent_total"] < 1 { // the relay a sent
		t.Errorf("duet_nats_envelopes_sent_total = %v, want the relay counted", m0["duet_nats_envelopes_sent_total"])
	}
	if m1 := metricValues(t, url1); m1["duet_nats_envelopes_received_total"] < 1 {
		t.Errorf("node 1 received %v envelopes, want the relay", m1["duet_nats_envelopes_received_total"])
	}

	ns.Shutdown()
	ns.WaitForShutdown()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := httpGet(t, url0+"/readyz")
		if code == 503 && strings.Contains(body, "NATS") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz with NATS down: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Flag mistakes and an unreachable NATS stop `duet serve` at start.
func TestServeNATSFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--nats-creds", "/nonexistent"}, "need --nats"},
		{[]string{"--nats", "nats://127.0.0.1:1", "--nats-tls-cert", "x.pem"}, "go together"},
		{[]string{"--nats", "nats://127.0.0.1:1", "--nats-node-timeout", "10ms"}, "at least"},
		{[]string{"--nats", "nats://127.0.0.1:1"}, "connect to"},
	}
	for _, tc := range tests {
		var log syncBuffer
		args := append([]string{"--addr", "127.0.0.1:0", "--lan", "--peerjs=false", "--resume-secret", strings.Repeat("ab", 32)}, tc.args...)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		code := runServe(ctx, args, nil, &log)
		cancel()
		if code == 0 || !strings.Contains(log.String(), tc.want) {
			t.Errorf("duet serve %v: exit %d, log %q; want an error saying %q", tc.args, code, log.String(), tc.want)
		}
	}
}
