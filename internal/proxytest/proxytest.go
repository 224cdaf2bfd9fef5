// Package proxytest runs Debian's nginx and Caddy in front of a duet
// server in tests, configured as docs/deploy.md tells operators to: TLS
// terminated at the proxy with a test CA's certificate, WebSocket upgrade
// passed through, and the client's address, scheme and host forwarded.
// Each proxy runs as its own process in a temporary directory, on a free
// loopback port, until the test ends.
package proxytest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/duet-call/duet/internal/testca"
)

// Required reports whether a missing proxy must fail the test rather than
// skip it: DUET_E2E=1, as in CI.
func Required() bool { return os.Getenv("DUET_E2E") == "1" }

// Proxy is a running proxy.
type Proxy struct {
	Name string
	Addr string // 127.0.0.1:port it listens on
	TLS  bool
	// Log is the proxy's error log, for failure messages.
	Log func() string
}

// URL is the proxy's base URL, with the host a browser would use.
func (p *Proxy) URL(host string) string {
	_, port, _ := net.SplitHostPort(p.Addr)
	scheme := "http"
	if p.TLS {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// Options say what the proxy serves.
type Options struct {
	Upstream string       // duet's host:port
	Leaf     *testca.Leaf // nil: plain HTTP
}

// nginxConf is docs/deploy.md's nginx configuration, with the test's
// paths and ports. Keep the two in step.
var nginxConf = template.Must(template.New("nginx").Parse(`
daemon off;
master_process off;
worker_processes 1;
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path {{.Dir}}/body;
    proxy_temp_path {{.Dir}}/proxy;
    fastcgi_temp_path {{.Dir}}/fastcgi;
    uwsgi_temp_path {{.Dir}}/uwsgi;
    scgi_temp_path {{.Dir}}/scgi;

    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      close;
    }
    server {
        listen {{.Listen}}{{if .Leaf}} ssl{{end}};
{{- if .Leaf}}
        ssl_certificate     {{.Leaf.CertFile}};
        ssl_certificate_key {{.Leaf.KeyFile}};
{{- end}}
        location / {
            proxy_pass http://{{.Upstream}};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }
    }
}
`))

// caddyConf is docs/deploy.md's Caddyfile, with the test's paths and
// ports. Caddy sets X-Forwarded-For/-Proto/-Host and passes WebSocket
// upgrades by itself.
var caddyConf = template.Must(template.New("caddy").Parse(`
{
	admin off
	auto_https off
	storage file_system {{.Dir}}/data
}
{{if .Leaf}}https{{else}}http{{end}}://:{{.Port}} {
	bind 127.0.0.1
{{- if .Leaf}}
	tls {{.Leaf.CertFile}} {{.Leaf.KeyFile}}
{{- end}}
	reverse_proxy {{.Upstream}}
}
`))

// StartNginx runs nginx in front of opts.Upstream.
func StartNginx(t testing.TB, opts Options) *Proxy {
	t.Helper()
	bin := find(t, "nginx", "/usr/sbin/nginx")
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "nginx.conf")
	write(t, conf, nginxConf, map[string]any{
		"Dir": dir, "Listen": "127.0.0.1:" + port, "Leaf": opts.Leaf, "Upstream": opts.Upstream,
	})
	p := &Proxy{Name: "nginx", Addr: "127.0.0.1:" + port, TLS: opts.Leaf != nil,
		Log: func() string { b, _ := os.ReadFile(filepath.Join(dir, "error.log")); return string(b) }}
	run(t, p, exec.Command(bin, "-p", dir, "-c", conf), nil)
	return p
}

// StartCaddy runs caddy in front of opts.Upstream.
func StartCaddy(t testing.TB, opts Options) *Proxy {
	t.Helper()
	bin := find(t, "caddy", "/usr/bin/caddy")
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "Caddyfile")
	write(t, conf, caddyConf, map[string]any{"Dir": dir, "Port": port, "Leaf": opts.Leaf, "Upstream": opts.Upstream})
	var out bytes.Buffer
	p := &Proxy{Name: "caddy", Addr: "127.0.0.1:" + port, TLS: opts.Leaf != nil, Log: func() string { return out.String() }}
	cmd := exec.Command(bin, "run", "--config", conf, "--adapter", "caddyfile")
	// Caddy keeps its state under HOME and XDG dirs: keep them in dir.
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	run(t, p, cmd, &out)
	return p
}

func find(t testing.TB, name, fallback string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if _, err := os.Stat(fallback); err == nil {
		return fallback
	}
	if Required() {
		t.Fatalf("%s is not installed (apt-get install %s); DUET_E2E=1 requires it", name, name)
	}
	t.Skipf("%s is not installed (apt-get install %s)", name, name)
	return ""
}

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func write(t testing.TB, path string, tmpl *template.Template, data any) {
	t.Helper()
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// run starts cmd, waits until p.Addr accepts connections, and stops the
// process when the test ends.
func run(t testing.TB, p *Proxy, cmd *exec.Cmd, out *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	if out == nil {
		out = &buf
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.Name, err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.Addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			t.Fatalf("%s exited before listening: %v\n%s", p.Name, waitErr, logs(p, out))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not listening on %s: %v\n%s", p.Name, p.Addr, err, logs(p, out))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logs is what the process printed and its log file, once each.
func logs(p *Proxy, out *bytes.Buffer) string {
	l := p.Log()
	if l == out.String() {
		return strings.TrimSpace(l)
	}
	return strings.TrimSpace(out.String() + l)
}

// String names the proxy in test logs.
func (p *Proxy) String() string { return fmt.Sprintf("%s on %s", p.Name, p.Addr) }
