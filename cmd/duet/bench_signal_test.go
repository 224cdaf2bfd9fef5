package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestBenchSignal runs duet bench signal against an in-process server and
// checks that the summary adds up, the server's memory and its own relay
// times included.
func TestBenchSignal(t *testing.T) {
	srv := startTestServer(t)
	var out, errOut bytes.Buffer
	code := runBench(t.Context(), []string{"signal", "--server", srv.URL(), "--peers", "4", "--rate", "40", "--duration", "1s", "--json"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var got struct {
		Connected     int            `json:"connected"`
		Sent          int64          `json:"sent"`
		Received      int64          `json:"received"`
		Errors        map[string]int `json:"errors"`
		RSSPerPeer    float64        `json:"server_rss_per_peer"`
		ServerRelayMS struct {
			Count, P50, P99 float64
		} `json:"server_relay_ms"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if got.Connected != 4 || got.Sent == 0 || got.Received != got.Sent || len(got.Errors) != 0 {
		t.Fatalf("connected %d, sent %d, received %d, errors %v", got.Connected, got.Sent, got.Received, got.Errors)
	}
	// Every message the load relayed is in the server's histogram (the
	// ramp relays nothing), and its quantiles are ordered and positive.
	if int64(got.ServerRelayMS.Count) != got.Received {
		t.Errorf("server histogram counted %v relays, the generator received %d", got.ServerRelayMS.Count, got.Received)
	}
	if !(got.ServerRelayMS.P50 > 0 && got.ServerRelayMS.P99 >= got.ServerRelayMS.P50) {
		t.Errorf("server relay p50 %v ms, p99 %v ms", got.ServerRelayMS.P50, got.ServerRelayMS.P99)
	}
}
