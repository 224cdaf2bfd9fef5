package turntls

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// Two pion peers that know only the turns: URL of the HTTPS port, and may
// use only relay candidates, connect and exchange data through it: TURN
// over TLS over the shared port, the certificate verified against the test
// CA (SSL_CERT_FILE), as pion does with its system roots.
func TestPionPeersOnlyTURNS(t *testing.T) {
	p := startOnePort(t, netip.MustParseAddr("127.0.0.1"))
	var servers []webrtc.ICEServer
	for _, s := range p.onlyTURNS("127.0.0.1", "pion") {
		servers = append(servers, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	if len(servers) != 1 {
		t.Fatalf("ICE servers %+v, want the turns: one", servers)
	}
	t.Logf("ICE servers: %v", servers[0].URLs)
	conf := webrtc.Configuration{ICEServers: servers, ICETransportPolicy: webrtc.ICETransportPolicyRelay}
	newPC := func() *webrtc.PeerConnection {
		pc, err := webrtc.NewPeerConnection(conf)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		return pc
	}
	offerer, answerer := newPC(), newPC()
	got := make(chan string, 2)
	dc, err := offerer.CreateDataChannel("chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	dc.OnOpen(func() { _ = dc.SendText("from the offerer") })
	dc.OnMessage(func(m webrtc.DataChannelMessage) { got <- string(m.Data) })
	answerer.OnDataChannel(func(d *webrtc.DataChannel) {
		d.OnMessage(func(m webrtc.DataChannelMessage) {
			got <- string(m.Data)
			_ = d.SendText("from the answerer")
		})
	})

	// Non-trickle: each description carries its gathered (relay) candidates.
	describe := func(pc *webrtc.PeerConnection, sdp webrtc.SessionDescription) webrtc.SessionDescription {
		done := webrtc.GatheringCompletePromise(pc)
		if err := pc.SetLocalDescription(sdp); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("ICE gathering did not complete")
		}
		return *pc.LocalDescription()
	}
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := answerer.SetRemoteDescription(describe(offerer, offer)); err != nil {
		t.Fatal(err)
	}
	answer, err := answerer.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := offerer.SetRemoteDescription(describe(answerer, answer)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, want := range []string{"from the offerer", "from the answerer"} {
		select {
		case m := <-got:
			if m != want {
				t.Fatalf("got %q, want %q", m, want)
			}
		case <-ctx.Done():
			t.Fatalf("no %q through the relay", want)
		}
	}
	for name, pc := range map[string]*webrtc.PeerConnection{"offerer": offerer, "answerer": answerer} {
		local, remote := selectedPair(t, pc)
		if local.CandidateType != webrtc.ICECandidateTypeRelay || local.RelayProtocol != "tls" || remote.CandidateType != webrtc.ICECandidateTypeRelay {
			t.Errorf("%s: selected %s (relay over %q) → %s, want relay over tls → relay", name,
				local.CandidateType, local.RelayProtocol, remote.CandidateType)
		}
	}
	st := p.turn.Stats()
	if st.StreamConns < 2 || st.RelayedBytesToPeer == 0 {
		t.Fatalf("TURN stats %+v: want the peers' TLS connections and relayed bytes", st)
	}
}

// selectedPair returns the local and remote candidate stats of pc's
// nominated pair.
func selectedPair(t *testing.T, pc *webrtc.PeerConnection) (local, remote webrtc.ICECandidateStats) {
	t.Helper()
	report := pc.GetStats()
	for _, s := range report {
		pair, ok := s.(webrtc.ICECandidatePairStats)
		if !ok || !pair.Nominated {
			continue
		}
		local, _ = report[pair.LocalCandidateID].(webrtc.ICECandidateStats)
		remote, _ = report[pair.RemoteCandidateID].(webrtc.ICECandidateStats)
		return local, remote
	}
	t.Fatalf("no nominated candidate pair")
	return
}
