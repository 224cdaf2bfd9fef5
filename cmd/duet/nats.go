package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/duet-call/duet/internal/bus/natsbus"
)

// natsFlags are duet serve's scale-out flags. Without --nats none of them
// matter and nothing NATS-related starts.
type natsFlags struct {
	url, creds             string
	tlsCA, tlsCert, tlsKey string
	prefix, bucket         string
	nodeTimeout            time.Duration
}

func addNATSFlags(fs *flag.FlagSet) *natsFlags {
	f := &natsFlags{}
	fs.StringVar(&f.url, "nats", "", "NATS server URL(s), comma-separated (nats:// or tls://): share rooms with every duet node on it; needs JetStream. Give all nodes the same --resume-secret")
	fs.StringVar(&f.creds, "nats-creds", "", "NATS credentials file (JWT and NKey seed) for --nats")
	fs.StringVar(&f.tlsCA, "nats-tls-ca", "", "PEM CA bundle to verify the NATS server with (default: the system roots)")
	fs.StringVar(&f.tlsCert, "nats-tls-cert", "", "PEM client certificate for NATS (mutual TLS, with --nats-tls-key)")
	fs.StringVar(&f.tlsKey, "nats-tls-key", "", "PEM private key for --nats-tls-cert")
	fs.StringVar(&f.prefix, "nats-prefix", "duet", "subject prefix; clusters sharing one NATS keep apart by it (and by --nats-bucket)")
	fs.StringVar(&f.bucket, "nats-bucket", "duet_rooms", "JetStream key-value bucket holding the room directory")
	fs.DurationVar(&f.nodeTimeout, "nats-node-timeout", 5*time.Second, "a node silent this long is gone: its peers' places are freed and their partners told they left (heartbeats every fifth of it)")
	return f
}

func (f *natsFlags) enabled() bool { return f.url != "" }

// connect joins the cluster; nil, nil when --nats is not set.
func (f *natsFlags) connect(ctx context.Context, log *slog.Logger) (*natsbus.Bus, error) {
	if !f.enabled() {
		if f.creds != "" || f.tlsCA != "" || f.tlsCert != "" {
			return nil, errors.New("--nats-creds and --nats-tls-* need --nats")
		}
		return nil, nil
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return nil, errors.New("--nats-tls-cert and --nats-tls-key go together")
	}
	if f.nodeTimeout < 500*time.Millisecond {
		return nil, fmt.Errorf("--nats-node-timeout %v: want at least 500ms", f.nodeTimeout)
	}
	var opts []nats.Option
	if f.creds != "" {
		opts = append(opts, nats.UserCredentials(f.creds))
	}
	if f.tlsCA != "" {
		opts = append(opts, nats.RootCAs(f.tlsCA))
	}
	if f.tlsCert != "" {
		opts = append(opts, nats.ClientCert(f.tlsCert, f.tlsKey))
	}
	b, err := natsbus.Connect(ctx, natsbus.Config{
		URL: f.url, Options: opts, Prefix: f.prefix, Bucket: f.bucket,
		Heartbeat: f.nodeTimeout / 5, NodeTimeout: f.nodeTimeout,
		Logger: log,
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}
