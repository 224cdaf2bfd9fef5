package web

import (
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"

	files "github.com/duet-call/duet/web"
)

var preloadLink = regexp.MustCompile(`<link rel="modulepreload" href="(/v/[0-9a-f]{16}/([A-Za-z0-9_-]+\.js))">`)

// anyImport is looser than staticImport: a sibling module named after
// "from" or "import" anywhere, so a static import the graph walk missed
// (one not at the start of a line) shows up here.
var anyImport = regexp.MustCompile(`(?:from|import)\s*"\./([A-Za-z0-9_-]+\.js)"`)

// TestPagesPreloadTheirWholeModuleGraph (issue 15): each page names every
// module its script imports, directly or not, as a modulepreload of this
// build's version, before the script, each one served; and nothing else.
func TestPagesPreloadTheirWholeModuleGraph(t *testing.T) {
	h := Handler()
	for _, tc := range []struct{ page, entry string }{{"/", "app.js"}, {"/check", "check.js"}} {
		t.Run(tc.entry, func(t *testing.T) {
			_, page := do(t, h, tc.page, nil)
			var got []string
			for _, m := range preloadLink.FindAllSubmatch(page, -1) {
				got = append(got, string(m[2]))
				if res, _ := do(t, h, string(m[1]), nil); res.StatusCode != 200 {
					t.Errorf("preloaded %s: status %d", m[1], res.StatusCode)
				}
			}
			script := strings.Index(string(page), `<script type="module"`)
			if last := strings.LastIndex(string(page), `rel="modulepreload"`); last < 0 || last > script {
				t.Errorf("the preloads (last at %d) do not all come before the script (at %d)", last, script)
			}
			want := importClosure(t, tc.entry)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("preloaded %v\nwant every module %s imports: %v", got, tc.entry, want)
			}
		})
	}
}

// importClosure: what entry imports, directly or not, by anyImport.
func importClosure(t *testing.T, entry string) []string {
	seen := map[string]bool{entry: true}
	queue := []string{entry}
	for len(queue) > 0 {
		src, err := fs.ReadFile(files.Files, queue[0])
		if err != nil {
			t.Fatalf("read %s: %v", queue[0], err)
		}
		queue = queue[1:]
		for _, line := range strings.Split(string(src), "\n") {
			if strings.Contains(line, "import(") {
				continue // a JSDoc type or a lazy load, not a static import
			}
			for _, m := range anyImport.FindAllStringSubmatch(line, -1) {
				if !seen[m[1]] {
					seen[m[1]] = true
					queue = append(queue, m[1])
				}
			}
		}
	}
	delete(seen, entry)
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	if len(out) == 0 {
		t.Fatalf("%s imports nothing: the test reads the wrong files", entry)
	}
	return out
}
