// Package schema holds the JSON Schema of duet's signaling messages
// (signaling.schema.json beside this file), for clients in any language and
// for the tests that check real traffic against it.
package schema

import _ "embed"

// JSON is signaling.schema.json. Its $defs clientMessage and serverMessage
// are what a client sends and what the server writes.
//
//go:embed signaling.schema.json
var JSON []byte
