// Package schematest checks signaling frames against the protocol's JSON
// Schema (protocol/schema). Tests install Tap as the server's
// signal.Config.Tap, so every frame a real client sends and every frame the
// server writes during the test is validated; only test code imports it.
package schematest

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/duet-call/duet/protocol"
	"github.com/duet-call/duet/protocol/schema"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	once           sync.Once
	client, server *jsonschema.Schema
	loadErr        error
)

const url = "duet-signaling.schema.json"

func load() {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema.JSON))
	if err != nil {
		loadErr = err
		return
	}
	c := jsonschema.NewCompiler()
	if loadErr = c.AddResource(url, doc); loadErr != nil {
		return
	}
	if client, loadErr = c.Compile(url + "#/$defs/clientMessage"); loadErr != nil {
		return
	}
	server, loadErr = c.Compile(url + "#/$defs/serverMessage")
}

// Validate checks one frame: fromClient says which side wrote it.
func Validate(fromClient bool, data []byte) error {
	once.Do(load)
	if loadErr != nil {
		return loadErr
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	if fromClient {
		return client.Validate(v)
	}
	return server.Validate(v)
}

// Tap returns a signal.Config.Tap that fails t on any frame that breaks
// the schema, either way. For servers whose clients are real ones (the SDK,
// the web app, a standard peer), which never send an invalid message.
func Tap(t testing.TB) func(in bool, data []byte) {
	return func(in bool, data []byte) {
		if err := Validate(in, data); err != nil {
			t.Errorf("signaling frame breaks protocol/schema (from client: %v): %s\n%v", in, data, err)
		}
	}
}

// AgreeTap is Tap for tests that send bad frames on purpose: every frame
// the server writes must match the schema, and a client frame must match it
// exactly when the server's decoder takes it, so the schema refuses what
// the server refuses and nothing more.
func AgreeTap(t testing.TB) func(in bool, data []byte) {
	return func(in bool, data []byte) {
		err := Validate(in, data)
		if !in {
			if err != nil {
				t.Errorf("server frame breaks protocol/schema: %s\n%v", data, err)
			}
			return
		}
		_, derr := protocol.DecodeClient(data)
		var pe *protocol.Error
		if errors.As(derr, &pe) && pe.Code == protocol.CodeNotAllowed {
			derr = nil // a valid server message from a client: the schema's oneOf of client types refuses it too
			if err == nil {
				t.Errorf("schema takes a server-only message from a client: %s", data)
			}
			return
		}
		if (err == nil) != (derr == nil) {
			t.Errorf("schema and decoder disagree on %s: schema %v, decoder %v", data, err, derr)
		}
	}
}
