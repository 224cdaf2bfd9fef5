package client

import (
	"encoding/json"
	"fmt"
)

// The chat channel as docs/protocol.md defines it: label "chat",
// pre-negotiated with id 0 on both sides, one JSON object per text message.
const (
	chatLabel = "chat"
	chatID    = uint16(0)
	// MaxChatText is the longest chat line the protocol allows: 16,384
	// bytes of UTF-8 (bytes, not characters).
	MaxChatText = 16 << 10
)

type chatMessage struct {
	Type string `json:"type"`
	Text string `json:"text,omitempty"`
}

func encodeChat(text string) ([]byte, error) {
	if len(text) > MaxChatText {
		return nil, fmt.Errorf("duet: chat text is %d bytes, over the %d limit", len(text), MaxChatText)
	}
	return json.Marshal(chatMessage{Type: "text", Text: text})
}

// decodeChat returns the text of a chat message and whether it was one.
// Unknown types are ignored, as the spec asks, so either side may be newer.
func decodeChat(data []byte) (string, bool) {
	var m chatMessage
	if err := json.Unmarshal(data, &m); err != nil || m.Type != "text" || len(m.Text) > MaxChatText {
		return "", false
	}
	return m.Text, true
}
