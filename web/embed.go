// Package web holds the browser app: plain HTML, CSS and ES modules, served
// as they are written (no build step) from the binary via go:embed.
package web

import "embed"

// Files is the app. internal/web serves it.
//
//go:embed *.html *.js *.css *.svg
var Files embed.FS
