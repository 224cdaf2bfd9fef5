package web

import (
	"regexp"
	"strings"
)

// staticImport matches a module's static imports of its siblings
// (`import {a} from "./x.js";`, `import "./x.js";`), written, as every
// module of the app writes them, at the start of a line. import("./x.js"),
// in a JSDoc type or a dynamic import, is not one and does not match: no
// space follows its import.
var staticImport = regexp.MustCompile(`(?m)^import\s(?:[^;"]*?\sfrom\s)?"\./([A-Za-z0-9_-]+\.js)"`)

// moduleGraph is every module entry loads before it runs, entry first,
// then each import in the order the browser meets it (depth first).
// Without it in the page the browser discovers the graph one level at a
// time: it fetches app.js, parses it, fetches its imports, parses them...
// so each level of imports costs a round trip (to the server or the
// service worker) before the call can start.
func moduleGraph(raw map[string][]byte, entry string) []string {
	var order []string
	seen := map[string]bool{}
	var walk func(string)
	walk = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		src, ok := raw[name]
		if !ok {
			return // not embedded: the browser reports it, nothing to preload
		}
		order = append(order, name)
		for _, m := range staticImport.FindAllSubmatch(src, -1) {
			walk(string(m[1]))
		}
	}
	walk(entry)
	return order
}

// withModulePreloads puts a <link rel="modulepreload"> for every module
// entry imports (the entry itself is the page's script) just before the
// page's `<script type="module" src="prefix+entry">`, so the browser
// fetches the whole graph at once while it parses the page.
func withModulePreloads(html string, raw map[string][]byte, entry, prefix string) string {
	script := `<script type="module" src="` + prefix + entry + `">`
	if !strings.Contains(html, script) {
		return html
	}
	graph := moduleGraph(raw, entry)
	if len(graph) == 0 {
		return html
	}
	var b strings.Builder
	for _, m := range graph[1:] {
		b.WriteString(`<link rel="modulepreload" href="` + prefix + m + `">` + "\n")
	}
	return strings.Replace(html, script, b.String()+script, 1)
}
