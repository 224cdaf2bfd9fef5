package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/duet-call/duet/internal/flagenv"
)

func TestPeerJSFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		wantID  int // status of GET /peerjs/peerjs/id, 0 when off
		idPath  string
	}{
		{name: "default", wantID: 200, idPath: "/peerjs/peerjs/id"},
		{name: "off", args: []string{"--peerjs=false"}, wantID: 0},
		{name: "off by env", env: map[string]string{"DUET_PEERJS": "false"}, wantID: 0},
		{name: "custom path", args: []string{"--peerjs-path", "/signal/pj/"}, wantID: 200, idPath: "/signal/pj/peerjs/id"},
		{name: "root refused", args: []string{"--peerjs-path", "/"}, wantErr: "want a path"},
		{name: "reserved refused", args: []string{"--peerjs-path", "/api/peerjs"}, wantErr: "belongs to duet"},
		{name: "empty key", args: []string{"--peerjs-key", ""}, wantErr: "must not be empty"},
		{name: "bad origin", args: []string{"--peerjs-allowed-origins", "nohost"}, wantErr: "allowed-origins"},
		{name: "short alive", args: []string{"--peerjs-alive-timeout", "3s"}, wantID: 200, idPath: "/peerjs/peerjs/id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			f := addPeerJSFlags(fs)
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			if err := flagenv.Parse(fs, tc.args, lookup); err != nil {
				t.Fatal(err)
			}
			routes, shutdown, err := f.setup(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer shutdown(context.Background())
			mux := http.NewServeMux()
			routes(mux)
			if tc.wantID == 0 {
				if _, pattern := mux.Handler(httptest.NewRequest("GET", "/peerjs/peerjs/id", nil)); pattern != "" {
					t.Fatalf("route %q mounted while off", pattern)
				}
				return
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", tc.idPath, nil))
			if rec.Code != tc.wantID || rec.Body.Len() == 0 {
				t.Fatalf("GET %s: %d %q", tc.idPath, rec.Code, rec.Body)
			}
		})
	}
}
