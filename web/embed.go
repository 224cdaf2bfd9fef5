// Package web holds the browser app: plain HTML, CSS and ES modules, served
// as they are written (no build step) from the binary via go:embed.
package web

import "embed"

// Files is the app. internal/web serves it.
//
//go:generate go run icons_gen.go
//go:embed *.html *.js *.css *.svg *.png *.webmanifest
var Files embed.FS
